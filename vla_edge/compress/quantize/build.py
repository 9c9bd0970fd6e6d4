"""Build one quantized graph of a bundle: a prepared FP32 graph, its weighted layers, and the
calibrated ranges, turned into FP16, static INT8 Q/DQ (any subset of layers) or dynamic INT8."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vla_edge.compress.quantize import graphs as g
from vla_edge.compress.quantize.fp16 import to_fp16
from vla_edge.compress.quantize.int8 import calibrate, quantize_dynamic
from vla_edge.compress.quantize.qdq import insert_qdq


@dataclass
class PreparedGraph:
    """An FP32 graph after quant_pre_process, with its weighted layers (`all_layers`) and those
    that may be quantized (`layers`: without the text encoder's when it is kept float)."""

    role: str
    path: Path
    model: object
    all_layers: list
    layers: list
    preprocess: str
    amax: dict[str, float] = field(default_factory=dict)

    @classmethod
    def load(cls, role: str, src: Path, work: Path, include_text: bool = True) -> PreparedGraph:
        from vla_edge.export.onnx_export import load_onnx, save_onnx

        dst = work / f"{role}.prepared.onnx"
        how = g.preprocess(src, dst)
        model, stale = load_onnx(dst)
        g.name_nodes(model)
        save_onnx(model, dst, stale)
        if (dst.parent / f"{dst.name}.data").is_file():  # saving moved the weights out of
            model, _ = load_onnx(dst)  # the in-memory model: read them back in
        layers = g.weighted_layers(model)
        chosen = [x for x in layers if include_text or not x.in_text_encoder]
        return cls(role, dst, model, layers, chosen, how)

    def params(self) -> dict[str, int]:
        return {t.name: int(np.prod(t.dims)) for t in self.model.graph.initializer}

    def calibrate(self, feeds: list[dict[str, np.ndarray]], method: str) -> None:
        self.amax = calibrate(self.path, feeds, self.layers, method)

    def static(self, layers: list | None = None):
        """Q/DQ model with `layers` (default: all weighted layers) in INT8."""
        return insert_qdq(self.model, self.layers if layers is None else layers, self.amax)

    def dynamic(self, layers: list | None = None) -> Path:
        out = Path(tempfile.mkdtemp(dir=self.path.parent)) / f"{self.role}.dynamic.onnx"
        quantize_dynamic(self.path, out, self.layers if layers is None else layers)
        return out

    def fp16(self, feeds: list[dict[str, np.ndarray]]):
        import onnx

        model = onnx.ModelProto()
        model.CopyFrom(self.model)
        return to_fp16(model, feeds)

    def build(self, base: str, layers: list | None = None):
        return self.static(layers) if base == "int8" else self.dynamic(layers)


def size_bytes(graph) -> int:
    if isinstance(graph, (str, Path)):
        return Path(graph).stat().st_size
    return graph.ByteSize()


def layer_summary(prepared: PreparedGraph, quantized: list) -> dict:
    names = {x.name for x in quantized}
    return {
        "weighted_layers": len(prepared.all_layers),
        "int8_layers": len(names),
        "float_layers": [x.name for x in prepared.all_layers if x.name not in names],
    }
