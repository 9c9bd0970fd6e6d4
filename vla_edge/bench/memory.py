"""One memory model for `vla-edge check` and `vla-edge benchmark`: what a graph needs resident.

- weights: every initializer at the size the runtime stores it in. On a TensorRT target an
  fp16/int8/best build stores float weights in FP16; an int8 initializer, or a float one that
  only QuantizeLinear reads (TensorRT folds the Q of a constant), takes one byte. `int8` on a
  graph without Q/DQ assumes what `vla-edge quantize --precision int8` would make: every
  GEMM/conv weight in one byte (the roofline estimate's convention; `check` sizes what TensorRT
  builds from the graph as it is and turns that off).
- activations: the peak bytes of non-constant tensors alive at once when the nodes run in graph
  order at the batch asked (a runtime reuses the memory of dead tensors; fusion makes the real
  peak lower). Views (Reshape, Squeeze, ...) alias their input and hold nothing of their own.
  A Q output and the output of a DequantizeLinear of int8 data count one byte (TensorRT keeps
  INT8 data between fused Q/DQ); other floats two bytes on fp16/int8/best TensorRT builds.

Shapes come from `vla_edge.bench.shapes.infer`: ONNX shape inference, then one ONNX Runtime
probe for what inference cannot follow. A tensor whose size is still unknown is counted as
`unsized` (and named), never silently as 0 bytes; reports print how many.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from typing import Any

from vla_edge.bench import opcost
from vla_edge.bench.shapes import ShapeTable, infer

# onnx.TensorProto element type -> bytes (4-bit types rounded up to one byte)
ITEMSIZE = {
    1: 4, 2: 1, 3: 1, 4: 2, 5: 2, 6: 4, 7: 8, 9: 1, 10: 2, 11: 8, 12: 4, 13: 8, 14: 8, 15: 16,
    16: 2, 17: 1, 18: 1, 19: 1, 20: 1, 21: 1, 22: 1, 23: 1,
}  # fmt: skip
FLOAT_TYPES = {1, 10, 11, 16}
INT8_TYPES = {2, 3}
REDUCED = ("fp16", "int8", "best")  # TensorRT builds whose float tensors are stored in FP16


@dataclass
class GraphMemory:
    weights_bytes: int = 0
    activation_bytes: int = 0
    unsized: list[str] = field(default_factory=list)  # tensors whose size is not known
    shapes: str = "onnx"  # how the shapes were found
    notes: list[str] = field(default_factory=list)

    @property
    def unsized_count(self) -> int:
        return len(self.unsized)


def itemsize(elem: int, reduce_float: bool) -> int:
    size = ITEMSIZE.get(elem, 4)
    return min(size, 2) if reduce_float and elem in FLOAT_TYPES else size


def topo_nodes(graph: Any) -> list[Any]:
    """The nodes in an order that runs them (ONNX Runtime accepts graphs that list a node before
    the producers of its inputs, as onnxconverter's float16 pass writes them): stable Kahn
    order, graph order among the ready ones; anything left unordered keeps its place at the end."""
    nodes = list(graph.node)
    have = {i.name for i in graph.input} | {t.name for t in graph.initializer} | {""}
    producers = {o for n in nodes for o in n.output if o}
    waiting = {
        k: {i for i in n.input if i in producers and i not in have} for k, n in enumerate(nodes)
    }
    users: dict[str, list[int]] = {}
    for k, need in waiting.items():
        for name in need:
            users.setdefault(name, []).append(k)
    ready = [k for k, need in waiting.items() if not need]
    heapq.heapify(ready)
    order = []
    while ready:
        k = heapq.heappop(ready)
        order.append(k)
        for out in nodes[k].output:
            for u in users.pop(out, []):
                waiting[u].discard(out)
                if not waiting[u]:
                    heapq.heappush(ready, u)
    placed = set(order)
    return [nodes[k] for k in order] + [n for k, n in enumerate(nodes) if k not in placed]


def live_nodes(graph: Any) -> list[Any]:
    """The nodes the graph outputs depend on, in an order that runs them: runtimes drop the
    rest (e.g. the dangling Casts a float16 conversion leaves), so they hold no memory."""
    needed = {o.name for o in graph.output}
    keep = []
    for node in reversed(topo_nodes(graph)):
        if any(o in needed for o in node.output if o):
            keep.append(node)
            needed.update(i for i in node.input if i)
    return keep[::-1]


class _Index:
    """Producers, consumers and the constant (foldable) tensors of one graph's live nodes."""

    def __init__(self, model: Any) -> None:
        graph = model.graph
        self.nodes = live_nodes(graph)
        self.init = {t.name: t for t in graph.initializer}
        self.static = set(self.init)
        self.consumers: dict[str, list[Any]] = {}
        self.producer: dict[str, Any] = {}
        for node in self.nodes:
            ins = [i for i in node.input if i]
            if node.op_type in ("Constant", "Shape", "Size") or all(i in self.static for i in ins):
                self.static.update(o for o in node.output if o)
            for o in node.output:
                self.producer[o] = node
            for i in ins:
                self.consumers.setdefault(i, []).append(node)
        self.outputs = [o.name for o in graph.output]
        self.has_qdq = any(
            n.op_type in ("QuantizeLinear", "DequantizeLinear") or n.op_type in opcost.INT8_OPS
            for n in self.nodes
        )


def _one_byte(ix: _Index, shapes: ShapeTable, name: str) -> bool:
    """int8 data: a Q output, or a DequantizeLinear output standing for int8 data."""
    node = ix.producer.get(name)
    if node is None:
        return False
    if node.op_type in ("QuantizeLinear", "DynamicQuantizeLinear"):
        return name == node.output[0]
    if node.op_type == "DequantizeLinear":
        t = shapes.get(node.input[0])
        return bool(t and t.elem_type in INT8_TYPES)
    return False


def _weights(ix: _Index, precision: str, reduce_float: bool, assume_int8: bool) -> int:
    total = 0
    for name, tensor in ix.init.items():
        n = 1
        for d in tensor.dims:
            n *= int(d)
        users = ix.consumers.get(name, [])
        quantized = bool(users) and all(u.op_type == "QuantizeLinear" for u in users)
        gemm_weight = assume_int8 and any(
            opcost.node_class(u.op_type) in ("gemm", "conv") and list(u.input[1:2]) == [name]
            for u in users
        )
        one = quantized or gemm_weight or tensor.data_type in INT8_TYPES
        total += n * (1 if one else itemsize(tensor.data_type, reduce_float))
    return total


def _activations(ix: _Index, shapes: ShapeTable, reduce_float: bool) -> tuple[int, list[str]]:
    last_use: dict[str, int] = {}
    for i, node in enumerate(ix.nodes):
        for name in node.input:
            last_use[name] = i
    for name in ix.outputs:
        last_use[name] = len(ix.nodes)
    unsized: dict[str, None] = {}

    def size(name: str) -> int:
        t = shapes.get(name)
        if t is None:
            unsized[name] = None
            return 0
        return t.numel * (1 if _one_byte(ix, shapes, name) else itemsize(t.elem_type, reduce_float))

    live: dict[str, int] = {}
    peak = 0
    for i, node in enumerate(ix.nodes):
        view = opcost.node_class(node.op_type) == "view"  # outputs alias the input
        for name in (*node.input, *(() if view else node.output)):
            if name and name not in ix.static and name not in live:
                live[name] = size(name)
        peak = max(peak, sum(live.values()))
        for name in [n for n in live if last_use.get(n, -1) <= i]:
            del live[name]
    return peak, list(unsized)


def graph_memory(
    model: Any,
    precision: str = "fp32",
    batch: int = 1,
    dims: dict[str, int] | None = None,
    target: str = "tensorrt",
    shapes: ShapeTable | None = None,
    assume_int8_weights: bool = True,
) -> GraphMemory:
    """Weights and peak activations of `model` (onnx.ModelProto) at `precision` and `batch` on
    `target` (tensorrt | onnxruntime: ONNX Runtime keeps the graph's own types)."""
    shapes = shapes or infer(model, batch, dims)
    ix = _Index(model)
    reduce_float = target == "tensorrt" and precision in REDUCED
    assume = assume_int8_weights and precision == "int8" and not ix.has_qdq
    acts, unsized = _activations(ix, shapes, reduce_float)
    notes = list(shapes.notes)
    if unsized:
        notes.append(f"{len(unsized)} activation tensor(s) could not be sized: {unsized[:3]}")
    return GraphMemory(
        _weights(ix, precision, reduce_float, assume), acts, unsized, shapes.method, notes
    )
