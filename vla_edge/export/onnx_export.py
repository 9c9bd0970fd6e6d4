"""torch -> ONNX for one graph, with the checks FACTS.md asks for after every export."""

from __future__ import annotations

import contextlib
import sys
import warnings
from pathlib import Path

import torch

from vla_edge.errors import ExportError
from vla_edge.export.graphs import GraphSpec

DEFAULT_OPSET = 17  # the legacy exporter's default (TensorRT 10.3 target)
DYNAMO_MIN_OPSET = 18  # asked for 17, dynamo writes an invalid Split or silently writes 18


def default_opset(exporter: str) -> int:
    return DYNAMO_MIN_OPSET if exporter == "dynamo" else DEFAULT_OPSET


def onnx_from_torch(
    graph: GraphSpec,
    example: dict[str, torch.Tensor],
    path: Path,
    opset: int = DEFAULT_OPSET,
    exporter: str = "legacy",
) -> tuple[tuple[list[dict], list[dict], int | None], torch.Tensor]:
    """Export `graph.module` called on `example` (by input name) to `path`, batch axis dynamic.

    Returns the graph's tensor table (see `tensor_table`) and the module's output on `example`
    (the next graph of a split export is traced on it)."""
    args = tuple(example[name] for name in graph.input_names)
    axes = {name: {0: "batch"} for name in graph.input_names + graph.output_names}
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            if exporter == "dynamo":
                _dynamo(graph, args, path, opset)
            else:
                torch.onnx.export(
                    graph.module,
                    args,
                    str(path),
                    input_names=graph.input_names,
                    output_names=graph.output_names,
                    dynamic_axes=axes,
                    opset_version=opset,
                    do_constant_folding=True,
                    dynamo=False,
                )
        with torch.no_grad():
            out = graph.module(*args)
        model = _static_output_dims(path, {graph.output_names[0]: tuple(out.shape)})
        if exporter == "dynamo" and _legalized(model):  # transformers' float64 / bool / int ops
            save_onnx(model, path)
    except ExportError:
        raise
    except Exception as exc:  # the exporters raise many types
        raise ExportError(
            f"torch.onnx.export ({exporter}) of the {graph.role} graph failed at opset {opset} "
            f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}). "
            + _hint(exporter, opset)
        ) from exc
    check_graph(model, graph, path)
    table = tensor_table(model)
    if table[2] != opset:
        raise ExportError(
            f"the {exporter} exporter wrote the {graph.role} graph at opset {table[2]} though "
            f"opset {opset} was asked; export with --opset {table[2]} to accept it"
        )
    return table, out


def _legalized(model) -> bool:
    """Rewrite a graph into the types TensorRT 10.3 (and onnxruntime < 1.24: no float64 Cos)
    runs; True when anything changed (see vla_edge.export.trt_legalize)."""
    from vla_edge.export.trt_legalize import legalize

    return bool(legalize(model))


def _hint(exporter: str, opset: int) -> str:
    """What to try next, never what is already in use."""
    if exporter == "legacy":
        return "Try --exporter dynamo (transformers models often need it)"
    alt = 20 if opset == 18 else 18
    return f"Try --opset {alt}, or --exporter legacy"


def batch_shapes(module, n_args: int, batch=None):
    """torch.export dynamic shapes with a dynamic batch axis on every positional input, in the
    structure the forward's signature asks for (a `*args` forward takes them as one tuple)."""
    import inspect

    batch = batch or torch.export.Dim("batch", min=1, max=1024)
    per_arg = tuple({0: batch} for _ in range(n_args))
    params = list(inspect.signature(module.forward).parameters.values())
    if params and params[0].kind is inspect.Parameter.VAR_POSITIONAL:
        return (per_arg,)
    return per_arg


def _dynamo(graph: GraphSpec, args: tuple, path: Path, opset: int) -> None:
    shapes = batch_shapes(graph.module, len(args))
    with contextlib.redirect_stdout(sys.stderr):  # its progress lines would break --json output
        program = _dynamo_program(graph, args, shapes, opset)
    program.save(str(path))


def _dynamo_program(graph: GraphSpec, args: tuple, shapes, opset: int):
    return torch.onnx.export(
        graph.module,
        args,
        input_names=graph.input_names,
        output_names=graph.output_names,
        dynamic_shapes=shapes,
        opset_version=opset,
        dynamo=True,
        optimize=True,
    )


def _static_output_dims(path: Path, shapes: dict[str, tuple[int, ...]]):
    """The exporter may leave symbolic non-batch output dims; pin them to the traced sizes
    (TensorRT wants static shapes except the batch axis)."""
    model, stale = load_onnx(path)
    for value in model.graph.output:
        for i, dim in enumerate(value.type.tensor_type.shape.dim):
            if i > 0 and value.name in shapes:
                dim.Clear()
                dim.dim_value = int(shapes[value.name][i])
    save_onnx(model, path, stale)
    return model


# a protobuf message cannot exceed 2 GiB: above this many bytes of weights a graph is written
# with its tensors in one external file beside it, `<graph>.onnx.data` (onnx's external data,
# which ONNX Runtime and TensorRT's parser read from the graph's folder)
EXTERNAL_DATA_BYTES = 2**31 - 2**27


def load_onnx(path: Path):
    """(model with its weights loaded, the external-data files it was read from)."""
    import onnx
    from onnx.external_data_helper import load_external_data_for_model

    model = onnx.load(str(path), load_external_data=False)
    stale = {
        entry.value
        for t in _tensors(model)
        if t.data_location == onnx.TensorProto.EXTERNAL
        for entry in t.external_data
        if entry.key == "location"
    }
    if stale:
        load_external_data_for_model(model, str(Path(path).parent))
    return model, stale


def save_onnx(model, path: Path, stale: set[str] = frozenset()) -> None:
    """Write `model` to `path`: in one file, or with its tensors in `<name>.data` beside it
    when its weights pass EXTERNAL_DATA_BYTES. Files it was read from are removed."""
    import onnx

    path = Path(path)
    location = f"{path.name}.data"
    external = tensor_bytes(model) > EXTERNAL_DATA_BYTES
    if external:
        (path.parent / location).unlink(missing_ok=True)
        onnx.save_model(
            model,
            str(path),
            save_as_external_data=True,
            all_tensors_to_one_file=True,
            location=location,
            size_threshold=1024,
        )
    else:
        onnx.save(model, str(path))
    for name in stale:
        if not (external and name == location):
            (path.parent / name).unlink(missing_ok=True)


def tensor_bytes(model) -> int:
    """Bytes of the graph's weights (initializers and constant tensors)."""
    return sum(len(t.raw_data) or t.ByteSize() for t in _tensors(model) if t.data_location == 0)


def _tensors(model):
    from onnx import external_data_helper

    every = getattr(external_data_helper, "_get_all_tensors", None)  # onnx's own walk
    return list(every(model)) if every else list(model.graph.initializer)


def check_graph(model, graph: GraphSpec, path: Path | None = None) -> None:
    """The ONNX checker passes, names are as declared, and every batch axis is really dynamic.
    A graph with external data is checked from its file (the checker resolves the data file
    relative to the graph)."""
    import onnx

    external = path is not None and (Path(path).parent / f"{Path(path).name}.data").is_file()
    try:
        onnx.checker.check_model(str(path) if external else model)
    except Exception as exc:
        raise ExportError(f"exported {graph.role} graph fails onnx.checker: {exc}") from exc
    ins = [i.name for i in model.graph.input]
    outs = [o.name for o in model.graph.output]
    if ins != graph.input_names or outs != graph.output_names:
        raise ExportError(
            f"{graph.role} graph has inputs {ins} / outputs {outs}; expected "
            f"{graph.input_names} / {graph.output_names} (an input unused by the model is dropped "
            "by the exporter: make sure the model uses every declared input)"
        )
    for value in list(model.graph.input) + list(model.graph.output):
        dims = value.type.tensor_type.shape.dim
        if not dims or not dims[0].dim_param:
            raise ExportError(
                f"{graph.role} graph: {value.name!r} lost its dynamic batch axis during export "
                f"(first dim is {dims[0].dim_value if dims else 'missing'}); this happens with "
                "ops that freeze shapes (e.g. scan): rewrite them or export with --exporter legacy"
            )


def tensor_table(source) -> tuple[list[dict], list[dict], int | None]:
    """Inputs, outputs (name, dtype, shape with strings for dynamic axes) and opset of an ONNX
    file (path) or a loaded ModelProto."""
    import onnx
    from onnx import helper

    if isinstance(source, (str, Path)):
        model = onnx.load(str(source), load_external_data=False)
    else:
        model = source

    def rows(values) -> list[dict]:
        out = []
        for v in values:
            t = v.type.tensor_type
            shape = [d.dim_param or d.dim_value for d in t.shape.dim]
            dtype = str(helper.tensor_dtype_to_np_dtype(t.elem_type))
            out.append({"name": v.name, "dtype": dtype, "shape": shape})
        return out

    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), None)
    return rows(model.graph.input), rows(model.graph.output), opset
