"""Export verbs: a reference checkpoint or any nn.Module + PolicySpec -> a verified bundle.

Every export ends with a parity check of ONNX Runtime against PyTorch on sample inputs; a
failed check raises ParityError and no bundle is written.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from vla_edge.bundle import Bundle, BundleWriter, new_manifest, sparsity_marker
from vla_edge.errors import ExportError
from vla_edge.export.checks import check_finite_weights
from vla_edge.export.graphs import reference_graphs
from vla_edge.export.onnx_export import DYNAMO_MIN_OPSET, default_opset, onnx_from_torch
from vla_edge.export.parity import ParityConfig
from vla_edge.export.samples import sample_feeds
from vla_edge.export.torch_source import save_programs
from vla_edge.policy.spec import PolicySpec


@dataclass
class ExportConfig:
    opset: int | None = None  # None: 17 with the legacy exporter, 18 with dynamo
    monolithic: bool = False
    exporter: str = "legacy"
    include_source: bool = True
    parity: ParityConfig = field(default_factory=ParityConfig)
    parity_batch: int = 4
    name: str | None = None
    force: bool = False
    # what the actions mean, written into the bundle's spec: "delta" | "absolute" or one per
    # dimension (None: the model's spec as it is; see PolicySpec's ActionSpace.kind)
    action_kind: str | list[str] | None = None

    def __post_init__(self) -> None:
        if self.exporter not in ("legacy", "dynamo"):
            raise ExportError(f"exporter must be 'legacy' or 'dynamo', got {self.exporter!r}")
        self.opset = default_opset(self.exporter) if self.opset is None else self.opset
        if not 13 <= self.opset <= 21:
            raise ExportError(
                f"opset must be 13..21 (TensorRT 10.3 parses up to 20), got {self.opset}"
            )
        if self.exporter == "dynamo" and self.opset < DYNAMO_MIN_OPSET:
            raise ExportError(
                f"the dynamo exporter needs opset >= {DYNAMO_MIN_OPSET}, got {self.opset} (at 17 "
                "it writes an invalid Split or silently opset 18); use --opset 18 (TensorRT "
                "10.3 parses up to 20) or --exporter legacy for opset 17"
            )
        if self.parity_batch < 1:
            raise ExportError(f"parity_batch must be >= 1, got {self.parity_batch}")


def export_checkpoint(
    ckpt: str | Path, out: str | Path, config: ExportConfig | None = None
) -> Bundle:
    """Reference checkpoint directory -> verified bundle (split layout unless monolithic)."""
    from vla_edge.backends.torch import ModelFromCheckpoint
    from vla_edge.outputs import check_output

    ckpt = Path(ckpt)
    config = config or ExportConfig()
    check_output(out, config.force, inputs=(ckpt, config.parity.data))  # before the slow part
    model = ModelFromCheckpoint(ckpt)()
    tok_dir = ckpt / "tokenizer" if (ckpt / "tokenizer").is_dir() else None
    if model.config.model_type == "vla_edge_autoregressive":  # decoder LLM: KV-cache graphs
        from vla_edge.export.kv_cache import export_autoregressive

        return export_autoregressive(model, out, config, tok_dir, ckpt)
    return export_model(model, out, config, tokenizer_dir=tok_dir, source=ckpt)


def export_model(
    model,
    out,
    config: ExportConfig | None = None,
    tokenizer_dir: Path | None = None,
    source: Path | None = None,
) -> Bundle:
    """A VlaForActions instance -> bundle."""
    config = config or ExportConfig()
    check_finite_weights(model, "the model", ExportError)
    refs = reference_graphs(model.eval(), config.monolithic)
    traced = _copy(model)
    for m in traced.modules():  # folded on the copy, never in the caller's (trainable) model
        if hasattr(m, "fold_for_export"):
            m.fold_for_export()
    graphs = list(zip(refs, reference_graphs(traced, config.monolithic), strict=True))
    settings = {
        "opset": config.opset,
        "layout": _layout(config),
        "exporter": config.exporter,
        "preset": model.config.preset,
        "head": model.config.head,
    }
    pre = _reference_preprocessing(model)
    extra = {}
    for key in ("sparsity", "compression"):  # set by `vla-edge prune`
        if getattr(model.config, key, None):
            settings[key] = getattr(model.config, key)
    if getattr(model.config, "sparsity", None):
        extra["sparsity"] = sparsity_marker(model.config.sparsity)
    return _export(
        graphs, model.policy_spec, out, config, tokenizer_dir, settings, pre, source, extra
    )


def export_module(
    module,
    spec: PolicySpec,
    out: str | Path,
    config: ExportConfig | None = None,
    tokenizer_dir: str | Path | None = None,
    instruction_encoder: str | None = None,
) -> Bundle:
    """Any nn.Module whose forward takes the spec's inputs by name and returns actions in
    physical units -> bundle. Nothing of ours needs to be subclassed.

    `instruction_encoder` names the submodule or method that encodes the instruction: it is
    exported as its own graph and the per-frame graph takes its embedding (see
    vla_edge.export.generic). The traced copy is also saved as a torch.export program, the
    source `--backend torch` runs."""
    from vla_edge.export.copying import copy_for_export
    from vla_edge.export.generic import generic_graphs

    split = instruction_encoder is not None
    config = config or ExportConfig(monolithic=not split, include_source=True)
    if config.monolithic == split:
        raise ExportError(
            "a generic module exports as one graph (ExportConfig(monolithic=True)) unless "
            "instruction_encoder names its encoder (then monolithic=False)"
        )
    if spec.instruction.tokenizer == "bundle" and tokenizer_dir is None:
        raise ExportError("the spec's tokenizer is 'bundle' but no tokenizer_dir was given")
    check_finite_weights(module, f"module {type(module).__qualname__}", ExportError)
    clone = copy_for_export(module)  # never trace the caller's module
    graphs = generic_graphs(module.eval(), clone, spec, instruction_encoder)
    settings = {
        "opset": config.opset,
        "layout": _layout(config),
        "exporter": config.exporter,
        "module": type(module).__qualname__,
        "instruction_encoder": instruction_encoder,
    }
    pre = {"image": {"layout": "NHWC", "dtype": "uint8", "in_graph": "as the module defines"}}
    tok = Path(tokenizer_dir) if tokenizer_dir else None
    return _export(graphs, spec, out, config, tok, settings, pre, None)


def declared_kind(spec: PolicySpec, kind: str | list[str] | None) -> PolicySpec:
    """`spec` with its action kind set to `kind` (unchanged when None); ExportError when the
    kind is not one of the choices or has the wrong number of dimensions."""
    from dataclasses import replace

    from vla_edge.errors import SpecError

    if kind is None:
        return spec
    try:
        return replace(spec, action=replace(spec.action, kind=kind))
    except SpecError as exc:
        raise ExportError(f"--action-kind: {exc}") from None


def _layout(config: ExportConfig) -> str:
    return "monolithic" if config.monolithic else "split"


def _copy(module):
    """Exporting can change a module's later eager behaviour (seen with transformers' BERT
    masks after tracing), so the graph is traced from a copy and the untouched original is
    the parity reference. A module that cannot be copied is an ExportError with the reason."""
    from vla_edge.export.copying import copy_for_export

    return copy_for_export(module)


def _export(graphs, spec, out, config, tokenizer_dir, settings, pre, source, extra=None) -> Bundle:
    """graphs: (reference, to_trace) pairs of GraphSpec."""
    from vla_edge.policy.tokenizer import load_tokenizer

    out = Path(out)
    spec = declared_kind(spec, config.action_kind)
    tokenizer = load_tokenizer(
        spec.instruction.tokenizer,
        spec.instruction.max_tokens,
        tokenizer_dir,
        spec.instruction.suffix,
    )
    started = time.perf_counter()
    inputs = (source, tokenizer_dir, config.parity.data)
    with BundleWriter(out, force=config.force, inputs=inputs) as writer:
        feeds = sample_feeds(spec, tokenizer, batch=config.parity_batch, seed=0)
        programs = None
        if source is None and config.include_source:  # before ONNX tracing touches the copy
            programs = save_programs([g[1] for g in graphs], feeds, writer)
        entries = _export_graphs([g[1] for g in graphs], feeds, writer, config)
        export_s = time.perf_counter() - started
        refs = [g[0] for g in graphs]
        report = _verify(refs, entries, writer, spec, config, seed=1, tokenizer=tokenizer)
        manifest = new_manifest(config.name or out.name, spec, "export", settings)
        manifest["graphs"] = entries
        manifest["preprocessing"] = {
            **pre,
            "instruction": {
                "tokenizer": spec.instruction.tokenizer,
                "max_tokens": spec.instruction.max_tokens,
            },
        }
        manifest["postprocessing"] = _postprocessing(spec)
        manifest.update(extra or {})
        if programs is not None:
            manifest["torch_source"] = programs
        manifest["validation"] = {"parity": report.to_dict(), "export_seconds": round(export_s, 2)}
        if tokenizer_dir is not None:
            tokenizer.save(writer.path("tokenizer"))
        if source is not None and config.include_source:
            _copy_source(source, writer)
        writer.finish(manifest)
    return Bundle.load(out)


def _export_graphs(graphs, feeds, writer, config) -> list[dict]:
    import torch

    example = {k: torch.from_numpy(v) for k, v in feeds.items()}
    entries = []
    for graph in graphs:
        fname = f"{graph.role}.onnx"
        (inputs, outputs, opset), out = onnx_from_torch(
            graph, example, writer.path(fname), config.opset, config.exporter
        )
        entries.append(
            {
                "file": fname,
                "role": graph.role,
                "opset": opset,
                "inputs": inputs,
                "outputs": outputs,
                "precision": "fp32",
            }
        )
        if graph.role == "instruction_encoder":  # the policy graph is traced on the embedding
            example["instruction_embedding"] = out
    return entries


def _verify(graphs, entries, writer, spec, config, seed, tokenizer):
    """PyTorch and ONNX Runtime side by side on at least 32 observations (real frames from
    `config.parity.data` when given), compared; the observations and the FP32 actions are
    recorded in the bundle (export/samples.py) for `vla-edge validate`."""
    from vla_edge.export.parity import verify_graphs
    from vla_edge.export.samples import SAMPLES_FILE

    paths = [writer.path(e["file"]) for e in entries]
    record = writer.path(SAMPLES_FILE)
    return verify_graphs(graphs, paths, spec, config.parity, tokenizer, record, seed)


def _postprocessing(spec: PolicySpec) -> dict:
    rep = spec.action.representation
    decode = {
        "bins": f"argmax over {spec.action.bins} bins per dimension -> bin centre in [low, high]",
        "continuous": "standardized regression -> action_mean + action_std * z",
        "flow": "flow matching, Euler steps from a fixed noise sample -> de-standardized",
    }[rep]
    return {
        "representation": rep,
        "decode": decode,
        "in_graph": True,
        "clamped_to_limits": True,
        "units": spec.action.units,
        "low": spec.action.low,
        "high": spec.action.high,
        "chunk": spec.action.chunk,
    }


def _reference_preprocessing(model) -> dict:
    cfg = model.config
    return {
        "image": {
            "layout": "NHWC",
            "dtype": "uint8",
            "in_graph": True,
            "normalize": {"mean": cfg.image_mean, "std": cfg.image_std, "scale": 1 / 255},
        },
        "state": {
            "in_graph": True,
            "standardized": bool(model.policy_spec.normalization.state_mean),
        },
    }


def _copy_source(source: Path, writer: BundleWriter) -> None:
    for name in ("config.json", "model.safetensors"):
        shutil.copyfile(source / name, writer.path(f"source/{name}"))
    if (source / "tokenizer").is_dir():
        shutil.copytree(source / "tokenizer", writer.path("source/tokenizer"), dirs_exist_ok=True)
