"""Roofline cost of an ONNX graph: FLOPs and bytes moved per node, at a precision.

`analyze(model, precision, batch, target)` walks the graph once with every shape known (see
shapes.py) and returns one NodeCost per node that would run a kernel:
- nodes whose inputs are all constants or shapes are folded away (TensorRT and ONNX Runtime
  both constant-fold them); views (Reshape, Squeeze, ...) move nothing;
- bytes = activations read + weights read + outputs written. A pointwise node (Add, Mul, Erf,
  Cast, QuantizeLinear, ...) whose input comes from a node with no other consumer runs fused
  into that node's kernel: that tensor is neither written nor read, and no kernel is launched;
- precision: "fp32" keeps the graph's types; on a TensorRT target GEMMs and convolutions use
  TF32 tensor cores (TensorRT's default for fp32 builds). "fp16" stores float activations and
  weights in 2 bytes. "int8" takes the graph's Q/DQ (or integer ops) where it has them: a GEMM
  whose weight comes through a DequantizeLinear of int8 reads 1-byte weights, and runs in int8
  when its activation does too. On a graph with no Q/DQ, "int8" assumes every GEMM/conv with
  a constant weight is quantized (what `vla-edge quantize --precision int8` makes) and says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from vla_edge.bench import opcost
from vla_edge.bench.memory import INT8_TYPES, graph_memory, itemsize, live_nodes
from vla_edge.bench.shapes import ShapeTable, infer
from vla_edge.errors import InputError

PRECISIONS = ("fp32", "fp16", "int8")
TARGETS = ("tensorrt", "onnxruntime")


@dataclass
class NodeCost:
    name: str
    op: str
    cls: str  # see opcost.node_class
    flops: float
    bytes: float
    weight_bytes: float
    compute: str  # fp32 | tf32 | fp16 | int8
    fused: bool = False  # runs inside its producer's kernel: no launch of its own
    gemm: tuple[int, int, int, int] | None = None  # (batch, M, K, N) of GEMMs and convs


@dataclass
class GraphCost:
    name: str
    precision: str
    batch: int
    target: str
    nodes: list[NodeCost] = field(default_factory=list)
    folded: int = 0  # nodes constant-folded or views
    shapes: str = "onnx"
    notes: list[str] = field(default_factory=list)
    # memory (vla_edge.bench.memory, the model `check` uses too)
    weight_storage_bytes: float = 0.0  # every constant, stored once
    activation_peak_bytes: float = 0.0  # most activation bytes alive at once, in graph order
    unsized_tensors: int = 0  # activations whose size could not be inferred (not counted)

    @property
    def flops(self) -> float:
        return sum(n.flops for n in self.nodes)

    @property
    def bytes(self) -> float:
        return sum(n.bytes for n in self.nodes)

    @property
    def weight_bytes(self) -> float:
        return sum(n.weight_bytes for n in self.nodes)


class _Graph:
    """Indexes used while costing one graph."""

    def __init__(self, model: Any, shapes: ShapeTable) -> None:
        graph = model.graph
        self.shapes = shapes
        self.outputs = {o.name for o in graph.output}
        self.static = {t.name for t in graph.initializer}
        self.producer: dict[str, Any] = {}
        self.consumers: dict[str, int] = {}
        self.nodes = live_nodes(graph)  # in running order, dead nodes dropped
        for node in self.nodes:
            ins = [i for i in node.input if i]
            if node.op_type in ("Constant", "Shape", "Size") or all(i in self.static for i in ins):
                self.static.update(o for o in node.output if o)
            for o in node.output:
                self.producer[o] = node
            for i in ins:
                self.consumers[i] = self.consumers.get(i, 0) + 1
        self.int8 = {o for n in self.nodes for o in n.output if self._is_int8(n, o)}
        self.has_qdq = any(n.op_type in ("QuantizeLinear", "DequantizeLinear") for n in self.nodes)
        self.has_qdq |= any(n.op_type in opcost.INT8_OPS for n in self.nodes)

    def _is_int8(self, node: Any, out: str) -> bool:
        """Tensor that holds int8 data (a Q output, or a DQ output standing for int8 data)."""
        if node.op_type in ("QuantizeLinear", "DynamicQuantizeLinear"):
            return out == node.output[0]
        if node.op_type == "DequantizeLinear":
            t = self.shapes.get(node.input[0])
            return bool(t and t.elem_type in INT8_TYPES)
        return False

    def elem_type(self, name: str) -> int:
        t = self.shapes.get(name)
        return t.elem_type if t else 1

    def numel(self, name: str) -> int:
        t = self.shapes.get(name)
        return t.numel if t else 0


def _itemsize(g: _Graph, name: str, reduce_float: bool) -> int:
    return 1 if name in g.int8 else itemsize(g.elem_type(name), reduce_float)


def _compute(g: _Graph, node: Any, precision: str, target: str, notes: set[str]) -> str:
    cls = opcost.node_class(node.op_type)
    if node.op_type in opcost.INT8_OPS:
        return "int8"
    if cls not in ("gemm", "conv"):
        return "fp32" if precision == "fp32" else "fp16"
    ins = [i for i in node.input[:2] if i]
    if ins and all(i in g.int8 for i in ins):
        return "int8"
    if precision == "int8" and not g.has_qdq and len(ins) > 1 and ins[1] in g.static:
        notes.add(
            "int8 estimated on a graph without Q/DQ: assumes every GEMM/conv with constant "
            "weights is quantized (as `vla-edge quantize --precision int8` would do)"
        )
        return "int8"
    if precision == "fp32":
        return "tf32" if target == "tensorrt" else "fp32"
    return "fp16"


def _node_bytes(g: _Graph, node: Any, compute: str, reduce_float: bool) -> tuple[float, float]:
    """(activation + output bytes, weight bytes) of one node."""
    act = weights = 0.0
    partial_read = node.op_type in ("Gather", "Slice", "GatherElements", "GatherND")
    for idx, name in enumerate(i for i in node.input if i):
        if name in g.static:
            n = g.numel(node.output[0]) if partial_read and idx == 0 else g.numel(name)
            size = 1 if compute == "int8" else _itemsize(g, name, reduce_float)
            weights += n * size
        else:
            act += g.numel(name) * _itemsize(g, name, reduce_float)
    for name in node.output:
        if name:
            act += g.numel(name) * _itemsize(g, name, reduce_float)
    return act, weights


def _source(g: _Graph, name: str) -> tuple[str, Any | None]:
    """Follow a tensor back through views with single consumers to the node that made it."""
    node = g.producer.get(name)
    while node is not None and opcost.node_class(node.op_type) == "view" and node.input:
        if g.consumers.get(name, 0) != 1 or name in g.outputs:
            break
        name = node.input[0]
        node = g.producer.get(name)
    return name, node


def _fuse(g: _Graph, costs: dict[str, NodeCost], node: Any, cost: NodeCost, rf: bool) -> None:
    """Fuse a pointwise node into the producer of one of its inputs (epilogue fusion)."""
    for name in (i for i in node.input if i and i not in g.static):
        if g.consumers.get(name, 0) != 1 or name in g.outputs:
            continue
        src, prod = _source(g, name)
        if prod is None or prod.name not in costs or g.consumers.get(src, 0) != 1:
            continue
        saved = g.numel(name) * _itemsize(g, name, rf)
        saved_src = g.numel(src) * _itemsize(g, src, rf)
        costs[prod.name].bytes = max(costs[prod.name].bytes - saved_src, 0.0)
        cost.bytes = max(cost.bytes - saved, 0.0)
        cost.fused = True
        return


def analyze(
    model: Any,
    precision: str = "fp32",
    batch: int = 1,
    target: str = "tensorrt",
    dims: dict[str, int] | None = None,
    name: str = "",
) -> GraphCost:
    """Per-node FLOPs and bytes of `model` (an onnx.ModelProto) at `precision` and `batch`."""
    if precision not in PRECISIONS:
        raise InputError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    if target not in TARGETS:
        raise InputError(f"target must be one of {TARGETS}, got {target!r}")
    shapes = infer(model, batch, dims)
    g = _Graph(model, shapes)
    rf = target == "tensorrt" and precision in ("fp16", "int8")
    out = GraphCost(name or model.graph.name, precision, batch, target, shapes=shapes.method)
    notes: set[str] = set(shapes.notes)
    costs: dict[str, NodeCost] = {}
    for i, node in enumerate(g.nodes):
        node.name = node.name or f"{node.op_type}_{i}"
        cls = opcost.node_class(node.op_type)
        if cls == "view" or all(o in g.static for o in node.output if o):
            out.folded += 1
            continue
        if node.op_type == "DequantizeLinear":  # fused into its consumer, which reads int8
            out.folded += 1
            continue
        cost = _cost(g, node, precision, target, rf, notes)
        if cls == "pointwise" or node.op_type == "QuantizeLinear":
            _fuse(g, costs, node, cost, rf)
        costs[node.name] = cost
        out.nodes.append(cost)
    mem = graph_memory(model, precision, batch, dims, target, shapes)
    out.weight_storage_bytes = float(mem.weights_bytes)
    out.activation_peak_bytes = float(mem.activation_bytes)
    out.unsized_tensors = mem.unsized_count
    if any(n.op in ("Loop", "If", "Scan") for n in out.nodes):
        notes.add("control-flow subgraphs (Loop/If/Scan) are costed as one element-wise pass")
    out.notes = sorted(n for n in notes if n)
    return out


def _cost(g: _Graph, node: Any, precision: str, target: str, rf: bool, notes: set) -> NodeCost:
    compute = _compute(g, node, precision, target, notes)
    act, weights = _node_bytes(g, node, compute, rf)
    cls = opcost.node_class(node.op_type)
    gemm = None
    if cls == "gemm":
        gemm = opcost.gemm_dims(node, g.shapes)
    elif cls == "conv":
        out = g.shapes.get(node.output[0])
        if out and len(out.shape) >= 2:
            spatial = out.numel // max(out.shape[1], 1)
            gemm = (1, spatial, 0, out.shape[1])
    return NodeCost(
        node.name,
        node.op_type,
        cls,
        float(opcost.flops(node, g.shapes)),
        act + weights,
        weights,
        compute,
        gemm=gemm,
    )


def load_model(path: Any) -> Any:
    import onnx

    return onnx.load(str(path))
