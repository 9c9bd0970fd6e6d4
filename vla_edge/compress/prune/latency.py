"""Latency of a reference model's per-frame policy graph under ONNX Runtime on this machine
(batch 1, instruction embedding precomputed), for `vla-edge prune --target-latency`."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np


def policy_feeds(model) -> dict[str, np.ndarray]:
    """Batch-1 feeds of the per-frame graph (instruction embedding included)."""
    import torch

    from vla_edge.export.samples import sample_feeds
    from vla_edge.policy.tokenizer import ByteTokenizer

    spec = model.policy_spec
    feeds = sample_feeds(spec, ByteTokenizer(spec.instruction.max_tokens), batch=1, seed=0)
    if model.config.text_encoder != "own":  # a WordPiece vocabulary: keep ids in range
        feeds["input_ids"] = np.minimum(feeds["input_ids"], model.config.vocab_size - 1)
    with torch.no_grad():
        emb = model.encode_instruction(
            torch.from_numpy(feeds["input_ids"]), torch.from_numpy(feeds["attention_mask"])
        )
    feeds["instruction_embedding"] = emb.numpy()
    return feeds


def export_policy_graph(model, path: Path) -> list[str]:
    """The per-frame graph to ONNX (as `vla-edge export` writes it); returns its input names."""
    import torch

    from vla_edge.export.graphs import reference_graphs
    from vla_edge.export.onnx_export import onnx_from_torch

    graph = reference_graphs(model.eval(), monolithic=False)[1]
    feeds = policy_feeds(model)
    onnx_from_torch(graph, {k: torch.from_numpy(v) for k, v in feeds.items()}, path)
    return graph.input_names


def models_latency_ms(models: dict, threads: int = 2, iters: int = 30) -> dict[str, float]:
    """p50 latency in ms of each model's per-frame graph, {label: model}, exported to ONNX and
    timed side by side under ONNX Runtime CPU (vla_edge.bench.latency: alternating rounds, in
    this process, idle threads not spinning so the sessions do not slow each other)."""
    from vla_edge.backends.factory import RunnerOptions, runner_for
    from vla_edge.bench.latency import time_runners

    opts = RunnerOptions(threads=threads, spinning=False)
    with tempfile.TemporaryDirectory(prefix="vla-prune-") as tmp:
        targets = {}
        for i, (label, model) in enumerate(models.items()):
            path = Path(tmp) / f"policy-{i}.onnx"
            export_policy_graph(model, path)
            targets[label] = (runner_for(path, options=opts), policy_feeds(model))
        stats = time_runners(targets, iterations=iters, warmup=5, rounds=min(6, iters))
    return {label: s["p50"] for label, s in stats.items()}


def model_latency_ms(model, threads: int = 2, iters: int = 30) -> float:
    return models_latency_ms({"model": model}, threads, iters)["model"]
