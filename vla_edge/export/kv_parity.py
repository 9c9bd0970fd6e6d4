"""Parity of a KV-cache bundle: its graphs decode under ONNX Runtime with the runtime's loop and
must emit the same token sequences as PyTorch's greedy decode (transformers' own forward, no
cache). The report also carries the action error in each dimension's units (`compare`), the
tokens of the torch graph modules (the static-cache path in PyTorch) and every graph output's
max abs error against PyTorch on the same feeds. Quantized bundles are judged by the same
function (without raising).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vla_edge.errors import ParityError
from vla_edge.export.kv_graphs import torch_runners
from vla_edge.export.parity import compare
from vla_edge.export.samples import (
    INSTRUCTIONS,
    feeds_of,
    observations,
    sample_feeds,
    save_observations,
)
from vla_edge.policy.autoregressive.decode import KvCacheDecoder


class Recorder:
    """A runner stand-in that keeps the first feeds and outputs it saw (tracing examples)."""

    def __init__(self, runner) -> None:
        self.runner, self.feeds, self.outputs = runner, None, None

    def input_metadata(self):
        return self.runner.input_metadata()

    def infer(self, feeds, check: bool = True):
        out = self.runner.infer(feeds, check=check)
        if self.feeds is None:
            self.feeds = {k: np.array(v) for k, v in feeds.items()}
            self.outputs = {k: np.array(v) for k, v in out.items()}
        return out


def samples(spec, tokenizer, batch: int, seed: int):
    """Tracing feeds: frames (+ state), instruction texts, a tokenizer stand-in giving their ids."""
    feeds = sample_feeds(spec, tokenizer, batch=batch, seed=seed)
    texts = tuple(INSTRUCTIONS[(seed + i) % len(INSTRUCTIONS)] for i in range(batch))
    ids, mask = feeds.pop("input_ids"), feeds.pop("attention_mask")
    return feeds, texts, (lambda _texts: (ids, mask)), (ids, mask)


def parity_samples(spec, tokenizer, n: int, data=None, seed: int = 1):
    """Parity observations (real frames from `data` first, as every export's parity): feeds,
    texts, tokenizer stand-in, (ids, mask), the observations and where they came from."""
    obs, info = observations(spec, n, data, seed)
    feeds = feeds_of(obs, spec, tokenizer)
    ids, mask = feeds.pop("input_ids"), feeds.pop("attention_mask")
    texts = tuple(str(t) for t in obs["instructions"])
    return feeds, texts, (lambda _texts: (ids, mask)), (ids, mask), obs, info


def decode_with(runners: dict, spec, feeds, texts, tok) -> np.ndarray:
    """Action bins [B, A] from the runtime decode loop over `runners`."""
    inner = [getattr(r, "runner", r) for r in runners.values()]
    for r in inner:
        if not r.is_active:
            r.activate()
    try:
        decoder = KvCacheDecoder(runners, spec)
        decoder.run(feeds, texts, tok)
    finally:
        for r in inner:
            r.deactivate()
    return decoder.last_bins


def verify(model, paths: dict[str, Path], spec, tokenizer, parity, record=None, raise_on_fail=True):
    """Tokens and actions of the graphs at `paths` (ONNX Runtime) vs PyTorch's greedy decode,
    on `parity.samples` observations (real frames from `parity.data` first). `record`: where to
    save the observations and the FP32 actions (what `vla-edge validate` compares with)."""
    import torch

    from vla_edge.backends.onnxrt import OnnxRuntimeRunner, SessionFromOnnx

    feeds, texts, tok, (ids, mask), obs, info = parity_samples(
        spec, tokenizer, parity.samples, parity.data
    )
    t = {k: torch.from_numpy(v) for k, v in feeds.items()}
    images = {c.name: t[c.input_name] for c in spec.cameras}
    ref = model.generate_bins(images, torch.from_numpy(ids), torch.from_numpy(mask), t.get("state"))
    ref = ref.numpy()
    ort = {r: OnnxRuntimeRunner(SessionFromOnnx(p)) for r, p in paths.items()}
    recorders = {role: Recorder(r) for role, r in ort.items()}
    cand = decode_with(recorders, spec, feeds, texts, tok)
    graph_bins = decode_with(torch_runners(model), spec, feeds, texts, tok)
    report = compare(
        {"actions": _actions(model, ref)},
        {"actions": _actions(model, cand)},
        spec,
        parity,
        raise_on_fail=False,
    ).to_dict()
    report["tokens"] = token_report(ref, cand, graph_bins)
    report["observations"] = info
    if record is not None:
        save_observations(record, obs, _actions(model, ref))
    report["graph_max_abs_error"] = _graph_errors(model, recorders)
    report["passed"] = _failure(report, parity) is None
    if raise_on_fail and not report["passed"]:
        raise ParityError(_failure(report, parity))
    return report


def _actions(model, bins: np.ndarray) -> np.ndarray:
    import torch

    return model.from_bins(torch.from_numpy(bins)).numpy()


def token_report(ref: np.ndarray, cand: np.ndarray, graphs: np.ndarray | None = None) -> dict:
    same = ref == cand
    rows = np.flatnonzero(~same.all(axis=1))
    report = {
        "samples": int(ref.shape[0]),
        "tokens_per_sample": int(ref.shape[1]),
        "identical_sequences": float(same.all(axis=1).mean()),
        "identical_tokens": float(same.mean()),
        "first_divergence": None,
    }
    if rows.size:
        r = int(rows[0])
        k = int(np.flatnonzero(~same[r])[0])
        report["first_divergence"] = {
            "sample": r,
            "token": k,
            "reference": int(ref[r, k]),
            "candidate": int(cand[r, k]),
        }
    if graphs is not None:
        report["torch_graphs_identical_sequences"] = float((graphs == ref).all(axis=1).mean())
    return report


def _graph_errors(model, recorders: dict) -> dict[str, float]:
    """Per graph output: max abs error of ONNX Runtime vs the torch graph module, same feeds."""
    errors = {}
    torch_r = torch_runners(model)
    for role, rec in recorders.items():
        if rec.feeds is None:
            continue
        with torch_r[role] as runner:
            ref = runner.infer(rec.feeds)
        for name, value in ref.items():
            if value.dtype.kind == "f":
                errors[f"{role}/{name}"] = float(np.abs(value - rec.outputs[name]).max())
    return errors


def _failure(report: dict, parity) -> str | None:
    tokens = report["tokens"]
    if tokens["identical_tokens"] < parity.min_identical_bins or tokens["first_divergence"]:
        d = tokens["first_divergence"]
        return (
            f"ONNX Runtime's decode differs from PyTorch's greedy decode: "
            f"{tokens['identical_sequences']:.1%} of {tokens['samples']} token sequences "
            f"identical; first divergence at sample {d['sample']} token {d['token']} "
            f"(bin {d['candidate']} vs {d['reference']})"
        )
    worst = max(report["graph_max_abs_error"].items(), key=lambda kv: kv[1], default=None)
    if worst and worst[1] > parity.embedding_atol:
        return (
            f"graph output {worst[0]!r} differs from PyTorch by up to {worst[1]:.3g} "
            f"(tolerance {parity.embedding_atol:g})"
        )
    return None
