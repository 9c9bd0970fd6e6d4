"""Per-layer precisions of a built engine, from the engine inspector's JSON
(`engine.create_engine_inspector().get_engine_information(LayerInformationFormat.JSON)`,
engine built with ProfilingVerbosity.DETAILED), and the report that catches a silent FP32
fallback: compute layers that run FP32 although FP16/INT8 was asked for.

Parsing is pure (tested here on recorded JSON); `read_engine_layers` is the TensorRT part.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from typing import Any

# Layers that move or reinterpret data; their precision says nothing about compute.
BOOKKEEPING = {
    "Reformat",
    "Shuffle",
    "NoOp",
    "Constant",
    "Cast",
    "Identity",
    "Shape",
    "Slice",
    "Gather",
    "Concatenation",
    "Reshape",
    "Transpose",
    "Dequantize",
    "Quantize",
    "Fill",
    "Assertion",
    "Condition",
    "ShapeHostToDevice",
}
_ORDER = ("int8", "fp8", "fp16", "bf16", "fp32")


@dataclass
class LayerPrecision:
    name: str
    kind: str
    precision: str  # int8 | fp16 | bf16 | fp32 | fp8 | int | unknown


def precision_of(fmt: str) -> str:
    """'Row major linear FP16 format' / 'Half' / 'Thirty-two wide ... Int8 format.' -> name."""
    s = fmt.lower()
    for key, name in (
        ("int8", "int8"),
        ("fp8", "fp8"),
        ("fp16", "fp16"),
        ("half", "fp16"),
        ("bf16", "bf16"),
        ("fp32", "fp32"),
        ("float", "fp32"),
        ("int32", "int"),
        ("int64", "int"),
        ("bool", "int"),
    ):
        if key in s:
            return name
    return "unknown"


def _layer_precision(layer: dict[str, Any]) -> str:
    """The lowest float precision among the layer's inputs (an INT8 conv reads INT8), else its
    outputs; integer-only layers are 'int'."""
    for group in ("Inputs", "Outputs"):
        found = {
            precision_of(str(t.get("Format/Datatype", "")))
            for t in layer.get(group, [])
            if isinstance(t, dict)
        }
        for name in _ORDER:
            if name in found:
                return name
        if "int" in found:
            return "int"
    return "unknown"


def parse_layers(info: str | dict[str, Any]) -> list[LayerPrecision]:
    data = json.loads(info) if isinstance(info, str) else info
    out = []
    for layer in data.get("Layers", []):
        if isinstance(layer, str):  # built without DETAILED verbosity: names only
            out.append(LayerPrecision(layer, "unknown", "unknown"))
            continue
        out.append(
            LayerPrecision(
                str(layer.get("Name", "?")),
                str(layer.get("LayerType", "?")),
                _layer_precision(layer),
            )
        )
    return out


def precision_report(layers: list[LayerPrecision], requested: str) -> dict[str, Any]:
    """Counts per precision and the compute layers that fell back to FP32."""
    counts = Counter(layer.precision for layer in layers)
    compute = [la for la in layers if la.kind not in BOOKKEEPING]
    fallback = []
    if requested in ("fp16", "int8", "best"):
        fallback = [la.name for la in compute if la.precision == "fp32"]
    warnings = []
    if fallback:
        warnings.append(
            f"{len(fallback)} of {len(compute)} compute layers run in FP32 although "
            f"{requested} was requested (e.g. {fallback[0]!r})"
        )
    if requested == "int8" and compute and not any(la.precision == "int8" for la in compute):
        warnings.append(
            "int8 was requested but no layer runs in INT8: check the Q/DQ placement "
            "with `vla-edge check --precision int8`"
        )
    if layers and all(la.precision == "unknown" for la in layers):
        warnings.append("layer precisions unknown (engine not built with DETAILED verbosity)")
    return {
        "count": len(layers),
        "compute": len(compute),
        "by_precision": dict(counts),
        "fp32_fallback": fallback,
        "warnings": warnings,
        "layers": [[la.name, la.kind, la.precision] for la in layers],
    }


def read_engine_layers(trt: Any, engine: Any, context: Any | None = None) -> list[LayerPrecision]:
    """Ask a deserialized engine (and optionally a context with input shapes set, so dynamic
    shapes show concrete formats) for its layers."""
    inspector = engine.create_engine_inspector()
    if context is not None:
        for attr in ("execution_context", "context"):  # renamed across TensorRT 10.x
            try:
                setattr(inspector, attr, context)
                break
            except (AttributeError, TypeError):
                continue
    return parse_layers(inspector.get_engine_information(trt.LayerInformationFormat.JSON))
