"""`export_lerobot_split`: a LeRobot SmolVLA / pi0 / pi0.5 checkpoint -> a split bundle
(per-camera vision encoders, the prefix graph with its per-layer KV cache, the denoise step,
the action decoder; see `split`), driven by `vla_edge.policy.flow.FlowSampler`.

Checked twice before the bundle is kept, as the single-graph export is: the bundle (ONNX
Runtime, the runtime's Euler loop) against the adapter's graph module in PyTorch (the module the
single-graph export traces) on `config.parity.samples` observations, and against LeRobot's own
preprocessor -> policy -> postprocessor. A failed check raises ParityError and leaves no bundle.
"""

from __future__ import annotations

import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

from vla_edge.errors import AdapterError, ExportError

SPLIT_TYPES = ("smolvla", "pi0", "pi05")


def export_lerobot_split(source, out, config, samples: int = 8):
    import torch

    from vla_edge.bundle import Bundle, BundleWriter
    from vla_edge.outputs import PartialDir, check_output
    from vla_edge.policy.adapters.lerobot import checkpoint
    from vla_edge.policy.adapters.lerobot.export import (
        _pipeline_parity,
        _post,
        _provenance,
        _save_tokenizer,
    )
    from vla_edge.policy.adapters.lerobot.registry import adapter_for
    from vla_edge.policy.adapters.lerobot.split import NOISE_FILE, example_feeds, split_graphs

    started = time.perf_counter()
    folder = checkpoint.resolve(checkpoint.strip_prefix(source)[0])
    adapter = adapter_for(checkpoint.policy_type(folder))
    if adapter.policy_type not in SPLIT_TYPES:
        raise AdapterError(
            f"--split-graphs applies to the VLM policies {list(SPLIT_TYPES)}; "
            f"{adapter.policy_type} exports as one graph (leave out --split-graphs)"
        )
    loaded = checkpoint.load(folder)
    conversions = adapter.check(loaded)
    out = check_output(out, config.force, inputs=(folder,))
    opset = config.opset or 18
    with PartialDir(out) as stage, tempfile.TemporaryDirectory() as tmp, torch.no_grad():
        tok_dir = _save_tokenizer(loaded, Path(tmp) / "tokenizer")
        from vla_edge.export.api import declared_kind

        spec = declared_kind(adapter.spec(loaded), config.action_kind)
        base = adapter.module(loaded, spec).eval()
        graphs, block = split_graphs(base, loaded, spec)
        staged = stage.path / out.name
        with BundleWriter(staged) as writer:
            examples = example_feeds(base, graphs, _trace_feeds(spec, tok_dir))
            entries = [
                _export_graph(g, examples[g.role], writer.path(f"{g.role}.onnx"), opset)
                for g in graphs
            ]
            np.save(writer.path(NOISE_FILE), base.noise.numpy().astype(np.float32))
            export_s = time.perf_counter() - started
            manifest = _manifest(spec, config, out, entries, block, adapter, opset)
            from vla_edge.policy.tokenizer import load_tokenizer

            load_tokenizer("bundle", spec.instruction.max_tokens, tok_dir).save(
                writer.path("tokenizer")
            )
            writer.finish(manifest)
        bundle = Bundle.load(staged)
        parity = _module_parity(base, bundle, config)
        pipeline = _pipeline_parity(adapter, loaded, base, bundle, config, samples)
        bundle.update(
            validation={
                "parity": parity,
                "lerobot_pipeline": pipeline,
                "export_seconds": round(export_s, 2),
                "seconds_with_checks": round(time.perf_counter() - started, 2),
            },
            lerobot=_provenance(adapter, loaded, base, conversions),
            postprocessing={**bundle.manifest["postprocessing"], **_post(adapter)},
        )
        stage.commit(staged)
    return Bundle.load(out)


def _trace_feeds(spec, tok_dir) -> dict:
    import torch

    from vla_edge.export.samples import sample_feeds
    from vla_edge.policy.tokenizer import load_tokenizer

    ins = spec.instruction
    tok = load_tokenizer("bundle", ins.max_tokens, tok_dir, ins.suffix)
    feeds = sample_feeds(spec, tok, batch=2, seed=0)
    return {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in feeds.items()}


def _export_graph(graph, example: dict, path: Path, opset: int) -> dict:
    """One graph with the dynamo exporter (the legacy one fails on these models' masks), every
    output's non-batch axes pinned to the traced sizes (TensorRT: static but for the batch)."""
    import torch

    from vla_edge.export.onnx_export import (
        _dynamo,
        _static_output_dims,
        check_graph,
        save_onnx,
        tensor_table,
    )
    from vla_edge.export.trt_legalize import legalize

    args = tuple(example[n] for n in graph.input_names)
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            _dynamo(graph, args, path, opset)
            outs = graph.module(*args)
    except Exception as exc:  # the exporter raises many types
        first = str(exc).splitlines()[0] if str(exc) else ""
        raise ExportError(
            f"torch.onnx.export (dynamo) of the {graph.role} graph failed at opset {opset} "
            f"({type(exc).__name__}: {first}); export it as one graph (leave out --split-graphs)"
        ) from exc
    outs = outs if isinstance(outs, tuple) else (outs,)
    shapes = {n: tuple(o.shape) for n, o in zip(graph.output_names, outs, strict=True)}
    model = _static_output_dims(path, shapes)
    rewrites = legalize(model)  # into the types TensorRT 10.3 runs (see trt_legalize)
    save_onnx(model, path)
    check_graph(model, graph, path)
    inputs, outputs, got = tensor_table(model)
    return {
        "file": path.name,
        "role": graph.role,
        "opset": got,
        "inputs": inputs,
        "outputs": outputs,
        "precision": "fp32",
        "tensorrt_rewrites": rewrites,
    }


def _module_parity(base, bundle, config) -> dict:
    """The bundle (ONNX Runtime, the runtime's loop) against the adapter's graph module in
    PyTorch, the module a single-graph export traces, on the same observations."""
    import torch

    from vla_edge.export.parity import compare
    from vla_edge.export.samples import INSTRUCTIONS, sample_feeds
    from vla_edge.policy.policy import Policy

    spec, n = bundle.spec, config.parity.samples
    with Policy.load(bundle.path, backend="onnxrt") as policy:
        feeds = sample_feeds(spec, policy.tokenizer, batch=n, seed=3)
        texts = [INSTRUCTIONS[i % len(INSTRUCTIONS)] for i in range(n)]
        frames = {c.name: feeds[c.input_name] for c in spec.cameras}
        got = policy.predict_batch(frames, texts, feeds.get("state"))
        prompts = texts
        if spec.instruction.state_prompt is not None:  # pi0.5: the state is in the prompt
            prompts = policy._state_prompt().render(tuple(texts), feeds["state"])
        feeds["input_ids"], feeds["attention_mask"] = policy.tokenizer(list(prompts))
    with torch.no_grad():
        args = {k: torch.from_numpy(np.ascontiguousarray(feeds[k])) for k in base.graph_inputs}
        want = base(**args).numpy()
    want = np.clip(want, spec.action.low, spec.action.high)
    report = compare({"actions": want}, {"actions": got}, spec, config.parity)
    out = report.to_dict()
    out.update(
        reference="torch graph module (what the single-graph export traces)",
        candidate="split bundle (onnxrt, vla_edge.policy.flow)",
    )
    return out


def _manifest(spec, config, out, entries, block, adapter, opset) -> dict:
    from vla_edge.bundle import new_manifest

    settings = {
        "opset": opset,
        "layout": "flow-split",
        "exporter": "dynamo",
        "adapter": adapter.name,
    }
    manifest = new_manifest(config.name or out.name, spec, "export", settings)
    manifest["graphs"] = entries
    manifest["flow"] = block
    manifest["preprocessing"] = {
        "image": {
            "layout": "NHWC",
            "dtype": "uint8",
            "in_graph": "vision_encoder.<camera>: /255, LeRobot's normalizer, resize-with-pad, "
            "[-1, 1]",
        },
        "state": {"in_graph": f"{block['state_in']} (LeRobot's normalizer, padded)"},
        "instruction": {
            "tokenizer": "bundle",
            "max_tokens": spec.instruction.max_tokens,
            "suffix": spec.instruction.suffix,
        },
    }
    manifest["postprocessing"] = {
        "in_graph": "action_decoder",
        "clamped_to_limits": True,
        "units": spec.action.units,
        "low": spec.action.low,
        "high": spec.action.high,
        "chunk": spec.action.chunk,
    }
    return manifest
