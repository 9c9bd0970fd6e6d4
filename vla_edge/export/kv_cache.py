"""Export of an autoregressive VLA with its KV cache: vision, prefix, prefill and decode-step
graphs (see `kv_graphs`), verified by decoding.

Parity on every export: the bundle's graphs run the runtime's decode loop under ONNX Runtime
and must emit the same token sequences as PyTorch's greedy decode (transformers' own forward,
no cache); the report also gives the action error in each dimension's units, the torch graph
modules' tokens (the static-cache code path in PyTorch) and every graph output's max abs error
against PyTorch on the same feeds. A failed check raises ParityError and writes no bundle.
"""

from __future__ import annotations

import copy
import time
import warnings
from pathlib import Path

import numpy as np

from vla_edge.bundle import Bundle, BundleWriter, new_manifest
from vla_edge.errors import ExportError
from vla_edge.export.kv_graphs import Layout, kv_graph_specs, torch_runners
from vla_edge.export.kv_parity import Recorder, samples, verify
from vla_edge.export.samples import SAMPLES_FILE
from vla_edge.policy.autoregressive.decode import KvCacheDecoder


def _export_graph(graph, example: dict, path: Path, opset: int) -> dict:
    import torch

    from vla_edge.export.onnx_export import _static_output_dims, check_graph, tensor_table

    args = tuple(torch.from_numpy(np.ascontiguousarray(example[n])) for n in graph.input_names)
    axes = {n: {0: "batch"} for n in graph.input_names + graph.output_names}
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
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
            outs = graph.module(*args)
    except Exception as exc:  # the exporter raises many types
        raise ExportError(
            f"torch.onnx.export of the {graph.role} graph failed at opset {opset} "
            f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})"
        ) from exc
    outs = outs if isinstance(outs, tuple) else (outs,)
    shapes = {n: tuple(o.shape) for n, o in zip(graph.output_names, outs, strict=True)}
    model = _static_output_dims(path, shapes)  # TensorRT: only the batch axis is dynamic
    check_graph(model, graph)
    inputs, outputs, opset = tensor_table(model)
    return {
        "file": path.name,
        "role": graph.role,
        "opset": opset,
        "inputs": inputs,
        "outputs": outputs,
        "precision": "fp32",
    }


def export_autoregressive(model, out, config, tokenizer_dir=None, source=None) -> Bundle:
    """An ArVlaForActions -> verified KV-cache bundle."""
    from vla_edge.export.api import _copy_source
    from vla_edge.policy.tokenizer import load_tokenizer

    if config.monolithic:
        raise ExportError(
            "an autoregressive policy exports as vision/prefix/prefill/decode-step graphs with "
            "its KV cache; --monolithic does not apply"
        )
    if config.exporter != "legacy":
        raise ExportError("the KV-cache graphs export with the legacy exporter (--exporter legacy)")
    model = model.eval()
    from vla_edge.export.api import declared_kind

    spec, out = declared_kind(model.policy_spec, config.action_kind), Path(out)
    tokenizer = load_tokenizer(
        spec.instruction.tokenizer, spec.instruction.max_tokens, tokenizer_dir
    )
    traced = _folded_copy(model)
    started = time.perf_counter()
    inputs = (source, tokenizer_dir, config.parity.data)
    with BundleWriter(out, force=config.force, inputs=inputs) as writer:
        examples = _examples(traced, spec, tokenizer, config.parity_batch)
        entries = [
            _export_graph(g, examples[g.role], writer.path(f"{g.role}.onnx"), config.opset)
            for g in kv_graph_specs(traced)
        ]
        export_s = time.perf_counter() - started
        paths = {e["role"]: writer.path(e["file"]) for e in entries}
        record = writer.path(SAMPLES_FILE)
        report = verify(model, paths, spec, tokenizer, config.parity, record)
        manifest = new_manifest(config.name or out.name, spec, "export", _settings(model, config))
        manifest["graphs"] = entries
        manifest.update(_pre_post(model, spec))
        manifest["decoding"] = decoding_block(model)
        manifest["validation"] = {"parity": report, "export_seconds": round(export_s, 2)}
        if tokenizer_dir is not None:
            tokenizer.save(writer.path("tokenizer"))
        if source is not None and config.include_source:
            _copy_source(Path(source), writer)
        writer.finish(manifest)
    return Bundle.load(out)


def _folded_copy(model):
    """Trace a copy (the caller's model stays trainable) with the patch weights folded."""
    traced = copy.deepcopy(model).eval()
    for m in traced.modules():
        if hasattr(m, "fold_for_export"):
            m.fold_for_export()
    return traced


def _examples(traced, spec, tokenizer, batch: int) -> dict[str, dict]:
    """Tracing feeds of every graph, recorded from one run of the decode loop in PyTorch."""
    feeds, texts, tok, _ = samples(spec, tokenizer, batch, seed=0)
    recorders = {role: Recorder(r) for role, r in torch_runners(traced).items()}
    for rec in recorders.values():
        rec.runner.activate()
    KvCacheDecoder(recorders, spec).run(feeds, texts, tok)
    return {role: rec.feeds for role, rec in recorders.items()}


def decoding_block(model) -> dict:
    """The manifest's description of the prompt, the cache and the decode loop."""
    lay, cfg = Layout(model), model.config
    dec = model.decoder.config
    return {
        "mode": cfg.decoding,
        "prompt": "instruction tokens | vision tokens | state token | action tokens",
        "action_tokens": lay.actions,
        "order": "step-major: every action dimension of chunk step 0, then step 1, ...",
        "bins": lay.bins,
        "vocab_offset": model.action_offset,
        "cache": {
            "layout": "[batch, kv_heads, slots, head_dim] per layer, keys and values",
            "slots": lay.slots,
            "prefix_slots": lay.prefix,
            "observation_slots": lay.observation,
            "action_slots": 0 if lay.parallel else lay.actions - 1,
            "bytes_per_row_fp32": 2 * lay.layers * lay.kv_heads * lay.slots * lay.head_dim * 4,
        },
        "decoder": {
            "type": cfg.decoder_type,
            "layers": lay.layers,
            "hidden": lay.hidden,
            "intermediate": dec.intermediate_size,
            "heads": dec.num_attention_heads,
            "kv_heads": lay.kv_heads,
            "head_dim": lay.head_dim,
            "vocab": dec.vocab_size,
            "parameters": sum(p.numel() for p in model.decoder.parameters()),
            "source": cfg.decoder_source,
        },
        "loop": "vla_edge.policy.autoregressive.decode.KvCacheDecoder",
        "graph_calls_per_action": 2 + (0 if lay.parallel else lay.actions - 1),
    }


def _settings(model, config) -> dict:
    return {
        "opset": config.opset,
        "layout": "kv-cache",
        "exporter": config.exporter,
        "preset": model.config.preset,
        "head": "ar-parallel" if model.config.decoding == "parallel" else "ar",
        "decoder": model.config.decoder_type,
    }


def _pre_post(model, spec) -> dict:
    cfg = model.config
    pre = {
        "image": {
            "layout": "NHWC",
            "dtype": "uint8",
            "in_graph": True,
            "normalize": {"mean": cfg.image_mean, "std": cfg.image_std, "scale": 1 / 255},
        },
        "state": {"in_graph": True, "standardized": bool(spec.normalization.state_mean)},
        "instruction": {
            "tokenizer": spec.instruction.tokenizer,
            "max_tokens": spec.instruction.max_tokens,
        },
    }
    post = {
        "representation": "bins",
        "decode": f"greedy action tokens, {spec.action.bins} bins per dimension -> bin centre",
        "in_graph": False,
        "decoded_by": "vla_edge.policy.autoregressive.tokens.ActionTokenizer",
        "clamped_to_limits": True,
        "units": spec.action.units,
        "low": spec.action.low,
        "high": spec.action.high,
        "chunk": spec.action.chunk,
    }
    return {"preprocessing": pre, "postprocessing": post}
