"""`export_lerobot`: a LeRobot pretrained_model folder -> a verified vla-edge bundle.

The adapter's graph module goes through the generic entry (parity of ONNX Runtime against the
module), then the bundle is checked against LeRobot's own preprocessor -> policy ->
postprocessor pipeline on fresh observations; that error, in action units, is recorded in the
bundle's validation. Both checks run on a staged bundle beside the output: a failed check raises
ParityError, leaves no bundle, and a bundle `--force` would have replaced stays as it was.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

from vla_edge.policy.adapters.lerobot import checkpoint
from vla_edge.policy.adapters.lerobot.registry import adapter_for


def export_lerobot(source, out, config=None, samples: int = 8):
    """`source`: 'lerobot:PATH' or a path to (a folder holding) a pretrained_model folder."""
    from dataclasses import replace

    from vla_edge.bundle import Bundle
    from vla_edge.export import export_module
    from vla_edge.outputs import PartialDir, check_output

    started = time.perf_counter()
    folder = checkpoint.resolve(checkpoint.strip_prefix(source)[0])
    adapter = adapter_for(checkpoint.policy_type(folder))
    loaded = checkpoint.load(folder)
    conversions = adapter.check(loaded)
    config = config or default_config(adapter)
    out = check_output(out, config.force, inputs=(folder,))
    staged_config = replace(config, force=False, name=config.name or out.name)
    with PartialDir(out) as stage, tempfile.TemporaryDirectory() as tmp:
        tok_dir = _save_tokenizer(loaded, Path(tmp) / "tokenizer") if adapter.takes_text else None
        spec = adapter.spec(loaded)
        module = adapter.module(loaded, spec)
        staged = stage.path / out.name
        bundle = export_module(module, spec, staged, staged_config, tokenizer_dir=tok_dir)
        report = _pipeline_parity(adapter, loaded, module, bundle, config, samples)
        validation = dict(bundle.manifest["validation"])
        validation["lerobot_pipeline"] = report
        validation["export_seconds"] = round(time.perf_counter() - started, 2)
        bundle.update(
            validation=validation,
            lerobot=_provenance(adapter, loaded, module, conversions),
            postprocessing={**bundle.manifest["postprocessing"], **_post(adapter)},
        )
        stage.commit(staged)
    return Bundle.load(out)


def default_config(adapter, **overrides):
    """The adapter's declared exporter, opset and tolerance, one graph, with a torch source."""
    from vla_edge.export import ExportConfig, ParityConfig

    kw = {
        "monolithic": True,
        "exporter": adapter.exporter,
        "opset": adapter.opset,
        "parity": ParityConfig(action_atol_fraction=adapter.atol_fraction),
    }
    kw.update({k: v for k, v in overrides.items() if v is not None})
    return ExportConfig(**kw)


def lerobot_config(source, opset, exporter, atol, include_source, force, parity: dict):
    """(ExportConfig, pretrained_model folder) for the CLI: the adapter's defaults unless the
    user asked otherwise."""
    from vla_edge.export import ParityConfig

    folder = checkpoint.resolve(checkpoint.strip_prefix(source)[0])
    adapter = adapter_for(checkpoint.policy_type(folder))
    tol = ParityConfig(action_atol_fraction=atol or adapter.atol_fraction, **parity)
    exporter = exporter or adapter.exporter
    opset = (
        opset if opset is not None else (adapter.opset if exporter == adapter.exporter else None)
    )
    cfg = default_config(
        adapter,
        exporter=exporter,
        opset=opset,
        parity=tol,
        include_source=include_source,
        force=force,
    )
    return cfg, folder


def _save_tokenizer(loaded, directory: Path) -> Path:
    step = loaded.step("pre", "TokenizerProcessorStep")
    if step is None:
        from vla_edge.errors import AdapterError

        raise AdapterError("this policy takes text but its preprocessor has no tokenizer step")
    tok = step.input_tokenizer
    tok.padding_side = step.padding_side
    tok.save_pretrained(str(directory))
    return directory


def _pipeline_parity(adapter, loaded, module, bundle, config, samples: int) -> dict:
    from vla_edge.export.parity import compare
    from vla_edge.export.samples import sample_feeds
    from vla_edge.policy.adapters.lerobot.reference import lerobot_actions
    from vla_edge.policy.policy import Policy

    spec = bundle.spec
    with Policy.load(bundle.path, backend="onnxrt") as policy:
        feeds = sample_feeds(spec, policy.tokenizer, batch=samples, seed=7)
        texts = [_text(i) for i in range(samples)]
        frames = {c.name: feeds[c.input_name] for c in spec.cameras}
        got = policy.predict_batch(frames, texts, feeds.get("state"))
    want = lerobot_actions(adapter, loaded, module, feeds, texts)
    want = np.clip(want, spec.action.low, spec.action.high)  # the bundle clamps to the limits
    report = compare({"actions": want}, {"actions": got}, spec, config.parity)
    out = report.to_dict()
    out.update(reference="lerobot preprocessor -> policy -> postprocessor", candidate="bundle")
    return out


def _text(i: int) -> str:
    from vla_edge.export.samples import INSTRUCTIONS

    return INSTRUCTIONS[i % len(INSTRUCTIONS)]


def _provenance(adapter, loaded, module, conversions) -> dict:
    import lerobot

    from vla_edge.policy.adapters.lerobot.base import action_limits

    return {
        "adapter": adapter.name,
        "policy_type": adapter.policy_type,
        "lerobot_version": lerobot.__version__,
        "source": str(loaded.path),
        "cameras": {name[len("image_") :]: key for name, key in module.cams},
        "action_limits_from": action_limits(loaded)[2],
        "noise": "fixed buffer (seed 0) baked into the graph" if adapter.noise else None,
        "text": {"suffix": adapter.text_suffix, "padding": "right"} if adapter.takes_text else None,
        "conversions": conversions,
    }


def _post(adapter) -> dict:
    return {
        "decode": f"LeRobot {adapter.policy_type} predict_action_chunk -> LeRobot unnormalizer "
        "(dataset units) -> clamped to the dataset's action limits",
    }
