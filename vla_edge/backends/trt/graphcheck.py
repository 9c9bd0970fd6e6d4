"""Check one ONNX graph against TensorRT 10.3's parser and a device: opset, ops, op
restrictions that matter, dtypes (UINT8, DOUBLE, INT64, FP8/FP4 on sm_87)."""

from __future__ import annotations

from typing import Any

from vla_edge.backends.trt.graphutil import GraphView, Problem, attr, node_label
from vla_edge.backends.trt.support import (
    DTYPE_AGNOSTIC,
    MAX_OPSET,
    MIN_OPSET,
    TRT_VERSION,
    op_support,
)
from vla_edge.bench.devices import DeviceProfile

_TYPE_SKIP = DTYPE_AGNOSTIC | {"QuantizeLinear", "DequantizeLinear"}  # qdq.py checks those
EXPORT_FIX = "re-export at opset 17: `vla-edge export CKPT -o OUT --opset 17`"


def check_opset(view: GraphView) -> list[Problem]:
    out = []
    for imp in view.model.opset_import:
        if imp.domain not in ("", "ai.onnx"):
            continue
        if not MIN_OPSET <= imp.version <= MAX_OPSET:
            out.append(
                Problem(
                    "error",
                    "opset",
                    f"default-domain opset {imp.version}; TensorRT {TRT_VERSION} parses opsets "
                    f"{MIN_OPSET}..{MAX_OPSET}",
                    EXPORT_FIX,
                )
            )
    return out


def check_ops(view: GraphView) -> list[Problem]:
    out, seen = [], set()
    for node in view.nodes:
        support = op_support(node.op_type, node.domain)
        if support.supported:
            out.extend(_check_node_types(view, node, support.types))
            out.extend(check_restrictions(view, node))
            continue
        key = (node.domain, node.op_type)
        where = node_label(node)
        more = "" if key not in seen else " (again)"
        seen.add(key)
        domain = f" (domain {node.domain})" if node.domain else ""
        out.append(
            Problem(
                "error",
                "unsupported-op",
                f"op {node.op_type}{domain} is not supported by TensorRT {TRT_VERSION}'s ONNX "
                f"parser{more}",
                support.fix,
                node=where,
            )
        )
    return out


def _check_node_types(view: GraphView, node: Any, types: tuple[str, ...]) -> list[Problem]:
    if not types or node.op_type in _TYPE_SKIP or not node.input or not node.input[0]:
        return []
    name = node.input[0]
    dtype = view.dtype(name)
    if dtype is None or dtype in types:
        return []
    if dtype == "UINT8" and name in view.io_names:
        fix = (
            f"cast the uint8 input `{name}` to float first (Cast is the only op TensorRT "
            "runs on UINT8 network inputs)"
        )
    else:
        fix = f"insert a Cast to one of {', '.join(types)} before this node, or change the export"
    return [
        Problem(
            "error",
            "op-dtype",
            f"{node.op_type} gets {dtype} input `{name}`; TensorRT {TRT_VERSION} runs it on "
            f"{', '.join(types)}",
            fix,
            node=node_label(node),
        )
    ]


def _const_input(view: GraphView, node: Any, index: int, what: str) -> list[Problem]:
    if len(node.input) <= index or not node.input[index] or view.is_constant(node.input[index]):
        return []
    return [
        Problem(
            "error",
            "restriction",
            f"{node.op_type}: {what} `{node.input[index]}` is computed at run time; TensorRT "
            f"{TRT_VERSION} needs it as an initializer",
            "fold it to a constant (export with static "
            "axes, or run onnx-simplifier / polygraphy surgeon sanitize --fold-constants)",
            node=node_label(node),
        )
    ]


def _bad_attr(node: Any, message: str, fix: str) -> list[Problem]:
    return [
        Problem("error", "restriction", f"{node.op_type}: {message}", fix, node=node_label(node))
    ]


_AXES_INPUT_OPS = {"Squeeze", "Unsqueeze", "CumSum"} | {
    f"Reduce{k}"
    for k in ("L1", "L2", "LogSum", "LogSumExp", "Max", "Mean", "Min", "Prod", "Sum", "SumSquare")
}
_RESIZE_MODES = {
    "half_pixel",
    "pytorch_half_pixel",
    "tf_half_pixel_for_nn",
    "asymmetric",
    "align_corners",
}


def check_restrictions(view: GraphView, node: Any) -> list[Problem]:
    op = node.op_type
    if op in _AXES_INPUT_OPS:
        return _const_input(view, node, 1, "axes")
    if op == "Pad":
        return _const_input(view, node, 3, "axes")
    if op == "Dropout":
        return _const_input(view, node, 2, "training_mode")
    if op == "Resize":
        return _check_resize(node)
    if op == "TopK":
        return _check_topk(view, node)
    if op in ("MaxPool", "LayerNormalization") and _uses_extra_outputs(view, node):
        return _bad_attr(node, "only the first output is supported", "do not use the others")
    if op in ("AveragePool", "MaxPool", "LpPool") and any(
        d != 1 for d in attr(node, "dilations", [])
    ):
        return _bad_attr(node, "dilations must be all ones", "use an undilated pool")
    if op == "ScatterND" and attr(node, "reduction", b"none") not in (b"none", "none"):
        return _bad_attr(node, "`reduction` is unsupported", "scatter without reduction")
    if op == "Constant" and any(
        a.name in ("sparse_value", "value_string", "value_strings") for a in node.attribute
    ):
        return _bad_attr(node, "sparse/string constants are unsupported", "use a dense tensor")
    return []


def _uses_extra_outputs(view: GraphView, node: Any) -> bool:
    return any(o and (view.consumers.get(o) or o in view.io_names) for o in node.output[1:])


def _s(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _check_resize(node: Any) -> list[Problem]:
    mode = _s(attr(node, "mode", "nearest"))
    ctm = _s(attr(node, "coordinate_transformation_mode", "half_pixel"))
    if mode not in ("nearest", "linear"):
        return _bad_attr(node, f"mode {mode!r} unsupported", "use mode='linear' (bilinear)")
    if ctm not in _RESIZE_MODES:
        return _bad_attr(
            node,
            f"coordinate_transformation_mode {ctm!r} unsupported",
            f"use one of {sorted(_RESIZE_MODES)}",
        )
    if attr(node, "antialias", 0):
        return _bad_attr(node, "antialias is unsupported", "resize with antialias=False")
    if _s(attr(node, "keep_aspect_ratio_policy", "stretch")) != "stretch":
        return _bad_attr(node, "only keep_aspect_ratio_policy='stretch'", "give explicit sizes")
    return []


def _check_topk(view: GraphView, node: Any) -> list[Problem]:
    if attr(node, "sorted", 1) != 1:
        return _bad_attr(node, "`sorted` must be 1", "export TopK with sorted=True")
    k = view.value(node.input[1]) if len(node.input) > 1 else None
    if k is not None and int(k.reshape(-1)[0]) >= 3840:
        return _bad_attr(node, f"K={int(k.reshape(-1)[0])} must be < 3840", "reduce K")
    return []


def check_dtypes(view: GraphView, device: DeviceProfile) -> list[Problem]:
    out: list[Problem] = []
    counts: dict[str, list[str]] = {}
    for name in view.types:
        counts.setdefault(view.dtype(name) or "?", []).append(name)
    out += _fp_lowbit(counts, "FP8", "fp8", device, "sm_89 (Ada) or newer")
    out += _fp_lowbit(counts, "FP4", "fp4", device, "sm_100 (Blackwell) or newer")
    if counts.get("DOUBLE"):
        out.append(
            Problem(
                "warning",
                "dtype-double",
                f"{len(counts['DOUBLE'])} DOUBLE tensors (e.g. `{counts['DOUBLE'][0]}`): TensorRT "
                "casts them to FP32, clamping to +-FLT_MAX",
                "export in float32 (model.float())",
            )
        )
    for name in counts.get("UINT8", []):
        if name in view.io_names or name in view.initializers or _is_qdq_tensor(view, name):
            continue
        out.append(
            Problem(
                "error",
                "dtype-uint8",
                f"UINT8 tensor `{name}` inside the graph; TensorRT accepts UINT8 only as a "
                "network input or output",
                "cast to float right after the input",
            )
        )
    for bad in ("STRING", "COMPLEX64", "COMPLEX128", "UINT16", "UINT32", "UINT64", "INT16"):
        if counts.get(bad):
            out.append(
                Problem(
                    "error",
                    "dtype",
                    f"{bad} tensor `{counts[bad][0]}`: not a TensorRT type",
                    "keep such data outside the graph or cast it to INT32/INT64/FP32",
                )
            )
    return out


def _is_qdq_tensor(view: GraphView, name: str) -> bool:
    """Q outputs (qdq.py reports those) and UINT8 passed on from a UINT8 input (reported once,
    at the op that consumed the input)."""
    producer = view.producer.get(name)
    if producer is None:
        return False
    first = producer.input[0] if producer.input else ""
    return producer.op_type == "QuantizeLinear" or view.dtype(first) == "UINT8"


def _fp_lowbit(
    counts: dict, key: str, precision: str, device: DeviceProfile, needs: str
) -> list[Problem]:
    names = counts.get(key, [])
    if not names or device.supports(precision):
        return []
    return [
        Problem(
            "error",
            f"dtype-{precision}",
            f"{len(names)} {key} tensors (e.g. `{names[0]}`) but {device.title} "
            f"({device.sm or device.kind}) has no {key} support; it needs {needs}",
            "re-quantize to INT8 QDQ (`vla-edge quantize --precision int8 --calib ...`) or FP16",
        )
    ]


def check_io(view: GraphView) -> list[Problem]:
    """INT64 inputs are fine for TensorRT 10 (no silent cast since 9.0); say so once."""
    names = [v.name for v in view.graph.input if view.dtype(v.name) == "INT64"]
    if not names:
        return []
    return [
        Problem(
            "info",
            "int64-io",
            f"INT64 inputs {names}: TensorRT {TRT_VERSION} keeps INT64 natively "
            "(feed int64 arrays)",
        )
    ]
