"""FLOPs of one ONNX node from its tensors' shapes, and how the node runs.

Conventions (a multiply-add counts 2 FLOPs):
- MatMul [.., M, K] x [.., K, N]: 2*M*K*N per output matrix (batch dims broadcast);
  Gemm: 2*M*K*N (+ M*N for the bias C); Conv: 2 * out elements * (Cin/group * kernel area)
  (+ out elements for a bias); ConvTranspose: 2 * in elements * (Cout/group * kernel area).
  The quantized forms (MatMulInteger, QLinearMatMul, ConvInteger, QLinearConv) count alike.
- pointwise ops: FLOPS_PER_ELEMENT[op] per output element (1 for arithmetic, 4 for a
  transcendental); Softmax 5, LayerNormalization 8 per element; reductions 1 per input element.
- views (Reshape, Squeeze, ...) cost nothing; data movement (Transpose, Concat, Gather, ...)
  costs bytes only.
"""

from __future__ import annotations

from typing import Any

from vla_edge.bench.shapes import ShapeTable

GEMM_OPS = {"MatMul", "Gemm", "MatMulInteger", "QLinearMatMul", "FusedMatMul"}
CONV_OPS = {"Conv", "ConvInteger", "QLinearConv"}
INT8_OPS = {"MatMulInteger", "QLinearMatMul", "ConvInteger", "QLinearConv"}
VIEW_OPS = {
    "Reshape",
    "Flatten",
    "Squeeze",
    "Unsqueeze",
    "Identity",
    "Shape",
    "Size",
    "Constant",
    "Dropout",
}
MOVE_OPS = {
    "Transpose",
    "Concat",
    "Slice",
    "Gather",
    "GatherElements",
    "GatherND",
    "Expand",
    "Cast",
    "Pad",
    "Split",
    "Tile",
    "Resize",
    "DepthToSpace",
    "SpaceToDepth",
    "ConstantOfShape",
    "ScatterND",
    "Trilu",
}
FLOPS_PER_ELEMENT = {
    **dict.fromkeys(
        ["Add", "Sub", "Mul", "Div", "Relu", "Max", "Min", "Neg", "Abs", "Where", "Equal"], 1
    ),
    **dict.fromkeys(["Less", "Greater", "Not", "And", "Or", "Clip", "LeakyRelu", "Sign"], 1),
    **dict.fromkeys(["Floor", "Ceil", "Round", "Mod", "PRelu", "HardSigmoid", "IsNaN"], 1),
    **dict.fromkeys(["Erf", "Exp", "Log", "Tanh", "Sigmoid", "Sqrt", "Pow", "Reciprocal"], 4),
    **dict.fromkeys(["Sin", "Cos", "Gelu", "Softplus", "Elu", "Selu", "HardSwish", "Mish"], 4),
    "QuantizeLinear": 2,
    "DequantizeLinear": 2,
    "DynamicQuantizeLinear": 4,
    "Softmax": 5,
    "LogSoftmax": 5,
    "LayerNormalization": 8,
    "SimplifiedLayerNormalization": 6,
    "SkipLayerNormalization": 9,
    "InstanceNormalization": 8,
    "GroupNormalization": 8,
    "BatchNormalization": 2,
}
REDUCE_OPS = {
    "ReduceMean",
    "ReduceSum",
    "ReduceMax",
    "ReduceMin",
    "ReduceProd",
    "ReduceL2",
    "ReduceSumSquare",
    "ArgMax",
    "ArgMin",
    "GlobalAveragePool",
    "GlobalMaxPool",
    "CumSum",
    "TopK",
}
POINTWISE = set(FLOPS_PER_ELEMENT) - {
    "Softmax",
    "LogSoftmax",
    "LayerNormalization",
    "SimplifiedLayerNormalization",
    "SkipLayerNormalization",
    "InstanceNormalization",
    "GroupNormalization",
} | {"Cast"}


def node_class(op: str) -> str:
    """'gemm' | 'conv' | 'view' | 'move' | 'pointwise' | 'norm' | 'reduce' | 'pool' | 'other'."""
    if op in GEMM_OPS:
        return "gemm"
    if op in CONV_OPS or op == "ConvTranspose":
        return "conv"
    if op in VIEW_OPS:
        return "view"
    if op in POINTWISE:
        return "pointwise"
    if op in MOVE_OPS:
        return "move"
    if op in FLOPS_PER_ELEMENT:
        return "norm"
    if op in REDUCE_OPS:
        return "reduce"
    if op in ("AveragePool", "MaxPool", "LpPool"):
        return "pool"
    return "other"


def _attr(node: Any, name: str, default: Any = None) -> Any:
    from onnx import helper

    for a in node.attribute:
        if a.name == name:
            return helper.get_attribute_value(a)
    return default


def _numel(shapes: ShapeTable, name: str) -> int:
    t = shapes.get(name) if name else None
    return t.numel if t else 0


def _shape(shapes: ShapeTable, name: str) -> tuple[int, ...]:
    t = shapes.get(name) if name else None
    return t.shape if t else ()


def gemm_dims(node: Any, shapes: ShapeTable) -> tuple[int, int, int, int]:
    """(batch, M, K, N) of a GEMM-like node (batch = number of output matrices)."""
    a_idx, b_idx = (0, 3) if node.op_type == "QLinearMatMul" else (0, 1)
    a = _shape(shapes, node.input[a_idx])
    b = _shape(shapes, node.input[b_idx]) if len(node.input) > b_idx else ()
    out = _shape(shapes, node.output[0])
    if not a or not b or not out:
        return 0, 0, 0, 0
    if node.op_type == "Gemm":
        k = a[0] if _attr(node, "transA", 0) else a[-1]
        return 1, out[0], k, out[1]
    k = a[-1]
    m = out[-2] if len(out) >= 2 else 1
    n = out[-1] if len(b) >= 2 else 1
    batch = 1
    for d in out[:-2]:
        batch *= d
    return batch, m, k, n


def conv_flops(node: Any, shapes: ShapeTable) -> int:
    w_idx = 3 if node.op_type == "QLinearConv" else 1
    w = _shape(shapes, node.input[w_idx])
    if not w:
        return 0
    per = 1
    for d in w[1:]:
        per *= d
    if node.op_type == "ConvTranspose":
        return 2 * _numel(shapes, node.input[0]) * per
    out = _numel(shapes, node.output[0])
    bias_idx = 8 if node.op_type == "QLinearConv" else 2
    bias = out if len(node.input) > bias_idx and node.input[bias_idx] else 0
    return 2 * out * per + bias


def flops(node: Any, shapes: ShapeTable) -> int:
    """FLOPs of one node (see the module docstring for the conventions)."""
    op, cls = node.op_type, node_class(node.op_type)
    if cls == "gemm":
        batch, m, k, n = gemm_dims(node, shapes)
        bias = m * n if op == "Gemm" and len(node.input) > 2 and node.input[2] else 0
        return 2 * batch * m * k * n + bias
    if cls == "conv":
        return conv_flops(node, shapes)
    if cls in ("pointwise", "norm"):
        return FLOPS_PER_ELEMENT.get(op, 0) * _numel(shapes, node.output[0])
    if cls == "reduce":
        return _numel(shapes, node.input[0])
    if cls == "pool":
        kernel = 1
        for d in _attr(node, "kernel_shape", []) or []:
            kernel *= d
        return _numel(shapes, node.output[0]) * kernel
    if cls == "other":
        return _numel(shapes, node.output[0]) if node.output else 0
    return 0
