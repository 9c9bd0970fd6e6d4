"""Check Q/DQ (QuantizeLinear / DequantizeLinear) patterns against what TensorRT fuses.

TensorRT's explicit quantization wants: signed INT8, zero point 0 (symmetric), constant scales,
per-tensor scales on activations, per-channel weight scales only along the output-channel axis
of the weighted op (Conv axis 0, ConvTranspose axis 1, MatMul B last axis, Gemm B axis 1, or 0
with transB=1), and a Q followed by a DQ. A weighted op whose weight is quantized but whose
activation is not cannot run in INT8 and silently runs in floating point.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from vla_edge.backends.trt.graphutil import GraphView, Problem, attr, node_label

QDQ = ("QuantizeLinear", "DequantizeLinear")
WEIGHTED = ("Conv", "ConvTranspose", "MatMul", "Gemm")
REQUANT = (
    "re-quantize symmetrically to signed INT8: onnxruntime quantize_static(..., "
    "quant_format=QuantFormat.QDQ, activation_type=QuantType.QInt8, weight_type=QuantType.QInt8, "
    "extra_options={'ActivationSymmetric': True, 'WeightSymmetric': True}) or `vla-edge quantize "
    "--precision int8`"
)


def check_qdq(view: GraphView) -> list[Problem]:
    out: list[Problem] = []
    for node in view.nodes:
        if node.op_type in QDQ:
            out += _zero_point(view, node)
            out += _scale(view, node)
        if node.op_type == "QuantizeLinear":
            out += _q_followed_by_dq(view, node)
        if node.op_type in WEIGHTED:
            out += _weighted(view, node)
    return out


def has_qdq(view: GraphView) -> bool:
    return any(n.op_type in QDQ for n in view.nodes)


def _zero_point(view: GraphView, node: Any) -> list[Problem]:
    if len(node.input) < 3 or not node.input[2]:
        return []
    name = node.input[2]
    dtype = view.dtype(name)
    if dtype == "UINT8":
        return [
            _err(
                node,
                "qdq-unsigned",
                f"zero point `{name}` is UINT8 (asymmetric unsigned "
                "quantization); TensorRT quantizes to signed INT8 only",
                REQUANT,
            )
        ]
    value = view.value(name)
    if value is None:
        if view.is_constant(name):
            return []
        return [_err(node, "qdq-zero-point", f"zero point `{name}` is not a constant", REQUANT)]
    if np.any(value.astype(np.float64) != 0):
        nonzero = int(np.count_nonzero(value))
        return [
            _err(
                node,
                "qdq-zero-point",
                f"zero point `{name}` has {nonzero} nonzero "
                "value(s); TensorRT needs zero points of 0 (symmetric)",
                REQUANT,
            )
        ]
    return []


def _scale(view: GraphView, node: Any) -> list[Problem]:
    name = node.input[1] if len(node.input) > 1 else ""
    if not view.is_constant(name):
        return [
            _err(
                node,
                "qdq-scale",
                f"scale `{name}` is computed at run time; TensorRT "
                "needs a build-time constant scale",
                "fold the scale into an initializer",
            )
        ]
    scale = view.value(name)
    if scale is not None and np.any(scale <= 0):
        return [_err(node, "qdq-scale", f"scale `{name}` has values <= 0", "recalibrate")]
    if scale is None or scale.size <= 1 or _is_weight(view, node):
        return []
    return [
        _err(
            node,
            "qdq-per-channel-activation",
            f"activation quantized per channel ({scale.size} scales in `{name}`); TensorRT "
            "quantizes INT8 activations per tensor",
            "quantize activations per tensor (per_channel applies to weights only)",
        )
    ]


def _is_weight(view: GraphView, node: Any) -> bool:
    """A Q/DQ on a constant (the weight path): DQ(int8 initializer) or DQ(Q(float initializer))."""
    src = node.input[0]
    if view.is_constant(src):
        return True
    producer = view.producer.get(src)
    return (
        producer is not None
        and producer.op_type == "QuantizeLinear"
        and view.is_constant(producer.input[0])
    )


def _q_followed_by_dq(view: GraphView, node: Any) -> list[Problem]:
    users = view.consumers.get(node.output[0], [])
    if users and all(u.op_type == "DequantizeLinear" for u in users):
        return []
    return [
        Problem(
            "warning",
            "qdq-pair",
            f"QuantizeLinear output `{node.output[0]}` does not feed a DequantizeLinear; "
            "TensorRT fuses Q/DQ pairs only",
            "place a DQ right after each Q",
            node=node_label(node),
        )
    ]


def _expected_axis(node: Any, rank: int) -> int | None:
    if node.op_type == "Conv":
        return 0
    if node.op_type == "ConvTranspose":
        return 1
    if node.op_type == "Gemm":
        return 0 if attr(node, "transB", 0) else 1
    if node.op_type == "MatMul":
        return rank - 1 if rank >= 2 else None
    return None


def _weighted(view: GraphView, node: Any) -> list[Problem]:
    if len(node.input) < 2:
        return []
    dq_w = view.producer.get(node.input[1])
    if dq_w is None or dq_w.op_type != "DequantizeLinear" or not _is_weight(view, dq_w):
        return []
    out = _weight_axis(view, node, dq_w)
    dq_x = view.producer.get(node.input[0])
    if dq_x is None or dq_x.op_type != "DequantizeLinear":
        out.append(
            Problem(
                "warning",
                "qdq-weight-only",
                f"{node.op_type} has a quantized weight but an unquantized input "
                f"`{node.input[0]}`: "
                "TensorRT cannot run it in INT8 and falls back to FP16/FP32 for this layer",
                "quantize the activation input too (Q/DQ on both inputs of the weighted op)",
                node=node_label(node),
            )
        )
    return out


def _weight_axis(view: GraphView, node: Any, dq: Any) -> list[Problem]:
    scale = view.value(dq.input[1])
    if scale is None or scale.size <= 1:
        return []
    weight = view.constants.get(dq.input[0])
    if weight is None:
        producer = view.producer.get(dq.input[0])
        weight = view.constants.get(producer.input[0]) if producer is not None else None
    rank = len(weight.dims) if weight is not None else 2
    axis = attr(dq, "axis", 1)
    axis = axis + rank if axis < 0 else axis
    expected = _expected_axis(node, rank)
    if expected is None or axis == expected:
        return []
    return [
        _err(
            dq,
            "qdq-weight-axis",
            f"weight of {node.op_type} `{node_label(node)}` is quantized per channel on axis "
            f"{axis}; TensorRT needs the output-channel axis {expected}",
            f"quantize weights per channel along axis {expected} (or per tensor)",
        )
    ]


def _err(node: Any, code: str, message: str, fix: str) -> Problem:
    return Problem("error", code, message, fix, node=node_label(node))
