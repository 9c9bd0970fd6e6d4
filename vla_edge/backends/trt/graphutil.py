"""Small helpers shared by the TensorRT target checks: the Problem record and ONNX graph views
(every node including subgraphs, constant tensors, tensor types, consumers)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

SEVERITIES = ("error", "warning", "info")


@dataclass
class Problem:
    """One finding of `vla-edge check`: what is wrong, where (graph and node), and the fix."""

    severity: str  # error: will not build/run; warning: builds but slower/less exact; info
    code: str  # stable short id, e.g. "unsupported-op"
    message: str
    fix: str = ""
    graph: str = ""
    node: str = ""

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(f"severity must be one of {SEVERITIES}, got {self.severity!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def line(self) -> str:
        where = ":".join(p for p in (self.graph, self.node) if p)
        text = f"{self.severity}: [{self.code}] {where + ': ' if where else ''}{self.message}"
        return text + (f"\n    fix: {self.fix}" if self.fix else "")


# ONNX TensorProto element type -> the names the TensorRT tables use.
_DTYPE_NAMES = {
    1: "FP32",
    2: "UINT8",
    3: "INT8",
    4: "UINT16",
    5: "INT16",
    6: "INT32",
    7: "INT64",
    8: "STRING",
    9: "BOOL",
    10: "FP16",
    11: "DOUBLE",
    12: "UINT32",
    13: "UINT64",
    14: "COMPLEX64",
    15: "COMPLEX128",
    16: "BF16",
    17: "FP8",
    18: "FP8",
    19: "FP8",
    20: "FP8",
    21: "UINT4",
    22: "INT4",
    23: "FP4",
}


def dtype_name(elem_type: int) -> str:
    return _DTYPE_NAMES.get(int(elem_type), f"type{elem_type}")


class GraphView:
    """Read-only indexes over one ONNX model (main graph and subgraphs)."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.graph = model.graph
        self.nodes = list(iter_nodes(model.graph))
        self.initializers = {t.name: t for t in iter_initializers(model.graph)}
        self.constants = dict(self.initializers)
        for node in self.nodes:
            if node.op_type == "Constant" and node.output:
                value = next((a.t for a in node.attribute if a.name == "value"), None)
                if value is not None:
                    self.constants[node.output[0]] = value
        self.producer = {o: n for n in self.nodes for o in n.output if o}
        self.consumers: dict[str, list[Any]] = {}
        for node in self.nodes:
            for name in node.input:
                if name:
                    self.consumers.setdefault(name, []).append(node)
        self.io_names = {v.name for v in (*self.graph.input, *self.graph.output)}
        self.types = _tensor_types(model, self.constants)

    def is_constant(self, name: str) -> bool:
        return name in self.constants

    def value(self, name: str) -> np.ndarray | None:
        from onnx import numpy_helper

        tensor = self.constants.get(name)
        if tensor is None:
            return None
        try:
            return numpy_helper.to_array(tensor)
        except Exception:  # external data not loaded, exotic type
            return None

    def dtype(self, name: str) -> str | None:
        elem = self.types.get(name)
        return dtype_name(elem) if elem else None


def node_label(node: Any) -> str:
    return node.name or f"{node.op_type}({', '.join(node.output)})"


def attr(node: Any, name: str, default: Any = None) -> Any:
    from onnx import helper

    for a in node.attribute:
        if a.name == name:
            return helper.get_attribute_value(a)
    return default


def iter_nodes(graph: Any) -> Iterator[Any]:
    for node in graph.node:
        yield node
        for a in node.attribute:
            if a.type == a.GRAPH:
                yield from iter_nodes(a.g)
            for g in a.graphs:
                yield from iter_nodes(g)


def iter_initializers(graph: Any) -> Iterator[Any]:
    yield from graph.initializer
    for node in graph.node:
        for a in node.attribute:
            if a.type == a.GRAPH:
                yield from iter_initializers(a.g)


def _tensor_types(model: Any, constants: dict[str, Any]) -> dict[str, int]:
    import onnx

    try:
        inferred = onnx.shape_inference.infer_shapes(model, strict_mode=False)
    except Exception:  # inference is a help, not a requirement
        inferred = model
    graph = inferred.graph
    types: dict[str, int] = {}
    for vi in (*graph.input, *graph.output, *graph.value_info):
        elem = vi.type.tensor_type.elem_type
        if elem:
            types[vi.name] = elem
    for name, tensor in constants.items():
        types[name] = tensor.data_type
    return types
