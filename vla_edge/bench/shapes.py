"""Shapes of every tensor of an ONNX graph at a fixed batch, for the roofline estimator.

First ONNX shape inference (with data propagation). Exported graphs compute some shapes at run
time (Shape -> Gather -> Concat -> Reshape/Expand chains) that inference cannot follow; for
those, one ONNX Runtime run at the fixed batch on neutral inputs (zeros, attention masks of
ones) reports the shape of every intermediate tensor. The method used is returned so a report
can say how the shapes were obtained.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class Tensor:
    shape: tuple[int, ...]
    elem_type: int  # onnx.TensorProto element type

    @property
    def numel(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) if self.shape else 1


@dataclass
class ShapeTable:
    tensors: dict[str, Tensor] = field(default_factory=dict)
    method: str = "onnx"
    notes: list[str] = field(default_factory=list)

    def get(self, name: str) -> Tensor | None:
        return self.tensors.get(name)


def fixed_batch(model: Any, batch: int, dims: dict[str, int] | None = None) -> Any:
    """A copy of `model` whose graph inputs have the batch (axis 0) and other symbolic dims set.

    Symbolic non-batch dims take `dims[name]`, else `dims["*"]`, else 64 (noted by the caller)."""
    import onnx

    dims = dims or {}
    fixed = onnx.ModelProto()
    fixed.CopyFrom(model)
    init = {t.name for t in fixed.graph.initializer}
    for inp in fixed.graph.input:
        if inp.name in init:
            continue
        for axis, dim in enumerate(inp.type.tensor_type.shape.dim):
            if dim.HasField("dim_value") and dim.dim_value > 0:
                continue
            param = dim.dim_param
            value = batch if axis == 0 else dims.get(param, dims.get("*", 64))
            dim.Clear()
            dim.dim_value = value
    return fixed


def _from_value_infos(model: Any) -> dict[str, Tensor]:
    out = {}
    graph = model.graph
    for vi in (*graph.input, *graph.output, *graph.value_info):
        tt = vi.type.tensor_type
        if not tt.elem_type or not tt.HasField("shape"):
            continue
        if all(d.HasField("dim_value") for d in tt.shape.dim):
            out[vi.name] = Tensor(tuple(int(d.dim_value) for d in tt.shape.dim), tt.elem_type)
    for t in graph.initializer:
        out[t.name] = Tensor(tuple(int(d) for d in t.dims), t.data_type)
    for node in graph.node:
        if node.op_type == "Constant" and node.output:
            value = next((a.t for a in node.attribute if a.name == "value"), None)
            if value is not None:
                out[node.output[0]] = Tensor(tuple(int(d) for d in value.dims), value.data_type)
    return out


def _missing(model: Any, known: dict[str, Tensor]) -> list[str]:
    return [o for n in model.graph.node for o in n.output if o and o not in known]


def infer(model: Any, batch: int = 1, dims: dict[str, int] | None = None) -> ShapeTable:
    """Shapes of all tensors of `model` at `batch` (ONNX inference, then an ORT probe)."""
    import onnx

    fixed = fixed_batch(model, batch, dims)
    try:
        inferred = onnx.shape_inference.infer_shapes(fixed, strict_mode=False, data_prop=True)
    except Exception as exc:  # inference can fail on exotic graphs: probe everything
        inferred, note = fixed, f"onnx shape inference failed ({type(exc).__name__})"
    else:
        note = ""
    table = ShapeTable(_from_value_infos(inferred), "onnx", [note] if note else [])
    missing = _missing(inferred, table.tensors)
    if missing:
        table.tensors.update(_probe(fixed, missing, table))
        table.method = "onnx+onnxruntime-probe"
    still = _missing(inferred, table.tensors)
    if still:
        table.notes.append(f"{len(still)} tensor shapes unknown (costed as 0): {still[:3]}")
    return table


def _probe_feed(inp: Any) -> np.ndarray:
    from onnx import helper

    tt = inp.type.tensor_type
    shape = [int(d.dim_value) for d in tt.shape.dim]
    dtype = helper.tensor_dtype_to_np_dtype(tt.elem_type)
    fill = 1 if "mask" in inp.name else 0
    return np.full(shape, fill, dtype=dtype)


def _probe(fixed: Any, names: list[str], table: ShapeTable) -> dict[str, Tensor]:
    """Run the graph once in ONNX Runtime with `names` exposed as outputs; their shapes."""
    try:
        import onnx
        from onnx import helper

        from vla_edge.backends.factory import RunnerOptions, runner_for
    except ImportError as exc:
        table.notes.append(f"onnx missing, some shapes unknown ({exc})")
        return {}
    probe = onnx.ModelProto()
    probe.CopyFrom(fixed)
    have = {o.name for o in probe.graph.output}
    for name in names:
        if name not in have:
            probe.graph.output.append(helper.make_empty_tensor_value_info(name))
    init = {t.name for t in probe.graph.initializer}
    feeds = {i.name: _probe_feed(i) for i in probe.graph.input if i.name not in init}
    try:
        with runner_for(probe, options=RunnerOptions(optimization="disable")) as runner:
            outs = runner.infer(feeds)
    except Exception as exc:  # onnxruntime (or its absence) raises its own types
        table.notes.append(f"onnxruntime shape probe failed ({type(exc).__name__}: {exc})"[:200])
        return {}
    return {
        n: Tensor(
            tuple(int(d) for d in outs[n].shape), helper.np_dtype_to_tensor_dtype(outs[n].dtype)
        )
        for n in names
    }
