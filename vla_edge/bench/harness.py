"""Measure variants side by side: one subprocess per variant, rounds that alternate.

Every variant is loaded once in its own process (backends do not share threads or allocators)
and warmed up; then, round after round, each worker in turn runs its share of the iterations
while the others wait idle on their stdin. Background load that comes and goes therefore hits
all variants alike. The order of the workers rotates every round.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vla_edge.bench.decode import decode_stats
from vla_edge.bench.latency import alternate, summary
from vla_edge.bench.variants import Plan, Variant
from vla_edge.errors import BackendError, InputError


@dataclass
class MeasureConfig:
    iterations: int = 100
    warmup: int = 10
    rounds: int = 5
    batch: int = 1
    threads: int | None = None
    samples: int = 8  # observations whose actions are compared with the reference
    pause_s: float = 0.05  # idle gap between workers, so spinning thread pools settle
    cuda_graph: bool = False  # TensorRT variants: capture each inference into a CUDA graph
    zero_copy: bool | None = None  # TensorRT variants: mapped host memory (None: on a Jetson)

    def __post_init__(self) -> None:
        for name in ("iterations", "rounds", "batch", "samples"):
            if getattr(self, name) < 1:
                raise InputError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.warmup < 0:
            raise InputError(f"warmup must be >= 0, got {self.warmup}")
        self.rounds = min(self.rounds, self.iterations)


class Worker:
    """A variant's process: send one command line, read one JSON line back."""

    def __init__(self, variant: Variant, cfg: MeasureConfig) -> None:
        self.variant = variant
        self.intervals: list[tuple[float, float]] = []
        self.decode: list[dict] = []  # a decoder LLM's per-call graph timings
        conf = {
            "bundle": variant.bundle,
            "backend": variant.backend,
            "providers": variant.providers,
            "engine_device": variant.engine_device,
            "threads": cfg.threads,
            "batch": cfg.batch,
            "samples": cfg.samples,
            "cuda_graph": cfg.cuda_graph,
            "zero_copy": cfg.zero_copy,
        }
        self.stderr = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 - closed in close()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "vla_edge.bench.worker", json.dumps(conf)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.stderr,
            text=True,
            bufsize=1,
        )
        self.hello = self._answer()

    def _answer(self) -> dict[str, Any]:
        line = self.proc.stdout.readline()
        if not line:
            self.proc.wait(timeout=10)
            self.stderr.seek(0)
            tail = self.stderr.read()[-800:]
            raise BackendError(
                f"benchmark worker for {self.variant.label} exited with code "
                f"{self.proc.returncode} before answering: {tail.strip() or 'no output'}"
            )
        data = json.loads(line)
        if "error" in data:
            self.close()
            raise BackendError(f"benchmark worker for {self.variant.label} failed: {data['error']}")
        return data

    def ask(self, command: str) -> dict[str, Any]:
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        return self._answer()

    def run(self, n: int) -> tuple[list[float], list[float]]:
        start = time.monotonic()
        answer = self.ask(f"run {n}")
        self.intervals.append((start, time.monotonic()))
        self.decode += answer.get("decode") or []
        return answer["times_ms"], answer["cpu_ms"]

    def close(self) -> dict[str, Any]:
        final: dict[str, Any] = {}
        if self.proc.poll() is None:
            try:
                final = self.ask("quit")
            except (BackendError, OSError, ValueError):
                final = {}
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.stderr.close()
        return final


def percentiles(times_ms: list[float]) -> dict[str, float]:
    return summary(times_ms)


def action_error(actions: np.ndarray, ref: np.ndarray, low, high) -> dict[str, Any]:
    """Error of `actions` against the reference's, in physical units and as range fractions."""
    diff = np.abs(actions - ref)  # [samples, chunk, action_dim]
    span = np.maximum(np.asarray(high, np.float64) - np.asarray(low, np.float64), 1e-12)
    per_dim = diff.reshape(-1, diff.shape[-1])
    return {
        "max_abs": per_dim.max(axis=0).tolist(),
        "mean_abs": per_dim.mean(axis=0).tolist(),
        "max_fraction_of_range": float((per_dim / span).max()),
        "mean_fraction_of_range": float((per_dim / span).mean()),
        "identical": float(np.mean(np.isclose(actions, ref, rtol=0, atol=1e-6 * span.max()))),
    }


def _rounds(workers: list[Worker], cfg: MeasureConfig) -> dict[str, tuple[list, list]]:
    """Alternating rounds over the worker processes (vla_edge.bench.latency.alternate)."""

    def run(w: Worker):
        return lambda n: list(zip(*w.run(n), strict=True))  # (wall, cpu) per call

    pairs = alternate(
        {w.variant.label: run(w) for w in workers}, cfg.iterations, cfg.rounds, cfg.pause_s
    )
    return {label: ([p[0] for p in calls], [p[1] for p in calls]) for label, calls in pairs.items()}


def wall_times(targets: dict[str, tuple[str, str]], cfg: MeasureConfig) -> dict[str, list[float]]:
    """Wall-clock ms of each predict for `{label: (bundle, backend)}`, every target in its own
    worker, warmed up, in alternating rounds (what benchmark scripts compare side by side)."""
    workers: list[Worker] = []
    try:
        for label, (bundle, backend) in targets.items():
            workers.append(Worker(Variant(label, str(bundle), backend, "", 0, ""), cfg))
            workers[-1].ask(f"warmup {cfg.warmup}")
        times = _rounds(workers, cfg)
    finally:
        for w in workers:
            w.close()
    return {label: wall for label, (wall, _cpu) in times.items()}


def measure(plan: Plan, cfg: MeasureConfig, spec: Any) -> list[dict[str, Any]]:
    """Time every variant of `plan`; per variant: latency percentiles, memory, action error."""
    workers: list[Worker] = []
    try:
        for v in plan.variants:
            workers.append(Worker(v, cfg))
            if cfg.warmup:
                workers[-1].ask(f"warmup {cfg.warmup}")
        times = _rounds(workers, cfg)
    finally:
        finals = [w.close() for w in workers]
    ref = next((w for w in workers if w.variant.reference), None)
    ref_actions = np.asarray(ref.hello["actions"]) if ref else None
    return [
        _result(w, times[w.variant.label], final, ref_actions, spec, cfg)
        for w, final in zip(workers, finals, strict=True)
    ]


def _result(w: Worker, both, final, ref_actions, spec, cfg: MeasureConfig) -> dict[str, Any]:
    times, cpu = both
    lat = percentiles(times)
    peak = (final.get("memory") or {}).get("peak_rss_mb", math.nan)
    base = w.hello["base"]["rss_mb"]
    actions = np.asarray(w.hello["actions"])
    err = None
    if ref_actions is not None and actions.shape == ref_actions.shape:
        err = action_error(actions, ref_actions, spec.action.low, spec.action.high)
    return {
        **w.variant.to_dict(),
        "kind": "measured",
        "size_mb": w.variant.size_bytes / 2**20,
        "latency_ms": lat,
        "cpu_ms": percentiles(cpu),
        "iterations": len(times),
        "batch": cfg.batch,
        "throughput_per_s": cfg.batch * 1e3 / lat["mean"] if lat["mean"] else math.nan,
        "max_rate_hz": 1e3 / lat["p99"] if lat["p99"] else math.nan,
        "memory": {
            "peak_rss_mb": peak,
            "rss_delta_mb": peak - base,
            "loaded_rss_mb": w.hello["loaded"]["rss_mb"],
            **(final.get("cuda") or {}),
        },
        "action_error": err,
        "decode": decode_stats(w.decode),
        "times_ms": times,
        "intervals": w.intervals,
    }


def bundle_spec(path: str | Path) -> Any:
    from vla_edge.bundle import Bundle

    return Bundle.load(path, verify=False).spec
