"""The outcome of a quantization run and how it is written into a bundle."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

from vla_edge.bundle import Bundle, BundleWriter, mark_failed, new_manifest
from vla_edge.compress.quantize import sensitivity as sens
from vla_edge.compress.quantize.config import Budget, QuantizeConfig

NOTES = {
    "int8": "explicit Q/DQ (symmetric INT8, per-channel weights, per-tensor activations): "
    "TensorRT builds it with INT8 kernels; ONNX Runtime CPU runs it too",
    "int8-dynamic": "dynamic INT8 (MatMulInteger/DynamicQuantizeLinear): ONNX Runtime CPU only; "
    "TensorRT cannot build it",
    "mixed": "layers listed in float_layers stay floating point (FP32 in the graph; build "
    "with FP16 enabled on TensorRT to run them in FP16)",
    "fp16": "FP16 weights and compute, FP32 graph I/O and FP32 islands",
    "fp32": "unchanged from the parent",
}


@dataclass
class Outcome:
    config: QuantizeConfig
    calibration: dict
    graphs: dict[str, object] = field(default_factory=dict)
    precisions: dict[str, str] = field(default_factory=dict)
    details: dict[str, dict] = field(default_factory=dict)
    metrics: object = None
    violations: list[str] = field(default_factory=list)
    verdict: object = None  # vla_edge.budget.Verdict
    budget: Budget | None = None
    sensitivity: list[dict] | None = None
    mixed: object = None
    full_int8: object = None
    cost: dict = field(default_factory=dict)

    def validation(self) -> dict:
        m = self.metrics
        out = {
            "parity": m.parity,
            "quantization": {
                "heldout": self.calibration,
                "budget": self.budget.to_dict() if self.budget else None,
                "budget_explicit": self.config.budget is not None,
                "passed": not self.violations,
                "violations": self.violations,
                "per_dimension": self.verdict.dims if self.verdict is not None else None,
                "action_error": m.error,
                "identical_bins": m.identical_bins,
                "embedding_max_abs": m.embedding_max_abs,
                "cost": self.cost,
            },
        }
        if self.mixed is not None:
            out["mixed"] = self.mixed.to_dict()
        return out


def _save_graph(writer: BundleWriter, role: str, graph) -> str:
    """The graph (a model or a file, with its external data if it has any) into the bundle:
    in one file, or with `<role>.onnx.data` beside it when its weights pass
    EXTERNAL_DATA_BYTES (a protobuf message cannot exceed 2 GiB)."""
    from vla_edge.export.onnx_export import load_onnx, save_onnx

    fname = f"{role}.onnx"
    if isinstance(graph, (str, Path)):
        graph, _ = load_onnx(Path(graph))
    save_onnx(graph, writer.path(fname))
    return fname


def _entry(writer: BundleWriter, role: str, graph, precision: str, details: dict) -> dict:
    from vla_edge.export.onnx_export import tensor_table

    fname = _save_graph(writer, role, graph)
    inputs, outputs, opset = tensor_table(writer.path(fname))
    base = "int8-dynamic" if precision == "mixed" and details.get("base") == "int8-dynamic" else ""
    return {
        "file": fname,
        "role": role,
        "opset": opset,
        "inputs": inputs,
        "outputs": outputs,
        "precision": precision,
        "quantization": {"note": NOTES[base or precision], **details},
    }


def write_bundle(
    writer: BundleWriter, parent: Bundle, config: QuantizeConfig, o: Outcome, name: str
) -> Path:
    # the per-frame graph first: Bundle.precision reads the first graph
    roles = sorted(o.graphs, key=lambda r: r == "instruction_encoder")
    entries = []
    for role in roles:
        details = dict(o.details.get(role, {}))
        if o.precisions[role] == "mixed":
            details["base"] = config.mixed_base
        entries.append(_entry(writer, role, o.graphs[role], o.precisions[role], details))
    if parent.tokenizer_dir is not None:
        shutil.copytree(parent.tokenizer_dir, writer.path("tokenizer"), dirs_exist_ok=True)
    if (parent.path / "samples").is_dir():  # the export's observations, for `vla-edge validate`
        shutil.copytree(parent.path / "samples", writer.path("samples"), dirs_exist_ok=True)
    settings = config.settings(used=o.calibration)
    manifest = new_manifest(config.name or name, parent.spec, "quantize", settings, parent)
    manifest["graphs"] = entries
    manifest["preprocessing"] = parent.manifest.get("preprocessing", {})
    manifest["postprocessing"] = parent.manifest.get("postprocessing", {})
    manifest["validation"] = o.validation()
    if o.violations:  # only written so with keep_failed: inference refuses it by default
        mark_failed(manifest, "quantize", o.violations)
    if o.sensitivity:
        folder = writer.path("reports/sensitivity.json").parent
        title = f"INT8 sensitivity of {parent.name} ({config.granularity}s, {config.base})"
        files = sens.write(o.sensitivity, folder, title)
        manifest["validation"]["sensitivity"] = {k: f"reports/{v}" for k, v in files.items()}
    return writer.finish(manifest)
