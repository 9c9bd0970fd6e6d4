"""Latency of a reference model's per-frame policy graph under ONNX Runtime on this machine
(batch 1, instruction embedding precomputed), for `vla-edge prune --target-latency`."""

from __future__ import annotations

import tempfile
import time
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


def measure_onnx(path: Path, feeds: dict, threads: int, iters: int = 30, warmup: int = 5):
    """Median latency in ms of one ONNX graph under ONNX Runtime CPU."""
    from vla_edge.backends.onnxrt.loader import SessionFromOnnx

    session = SessionFromOnnx(path, threads=threads)()
    names = [i.name for i in session.get_inputs()]
    feed = {n: feeds[n] for n in names}
    for _ in range(warmup):
        session.run(None, feed)
    times = []
    for _ in range(iters):
        t = time.perf_counter()
        session.run(None, feed)
        times.append((time.perf_counter() - t) * 1e3)
    return float(np.median(times))


def model_latency_ms(model, threads: int = 2, iters: int = 30) -> float:
    with tempfile.TemporaryDirectory(prefix="vla-prune-") as tmp:
        path = Path(tmp) / "policy.onnx"
        export_policy_graph(model, path)
        return measure_onnx(path, policy_feeds(model), threads, iters)
