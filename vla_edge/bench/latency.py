"""The one way vla-edge times variants against each other: side by side, in alternating rounds.

Timing one variant after another lets background load that comes and goes (other jobs, turbo
clocks, thermal limits) land on one variant and not the other. Here every variant runs a share
of its iterations in each round, round after round, the order rotating each round, so whatever
the machine does hits all of them alike.

- `alternate(variants, iterations, rounds)`: the schedule, for any `run(n) -> n samples`
  callable (a Runner in this process, a benchmark worker process, ...).
- `time_runners({label: (runner, feeds)})`: Runners in this process (activated here, warmed
  up, timed by the runner's own timing). What `vla-edge quantize` prints and `prune
  --target-latency` measures. `vla-edge benchmark` runs each variant in its own process
  (vla_edge.bench.harness) through the same `alternate`.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from vla_edge.errors import InputError


def share(iterations: int, rounds: int) -> list[int]:
    """Iterations per round: `iterations` split as evenly as possible over `rounds`."""
    rounds = max(1, min(rounds, iterations))
    per = [iterations // rounds] * rounds
    for i in range(iterations % rounds):
        per[i] += 1
    return per


def alternate(
    variants: dict[str, Callable[[int], list[Any]]],
    iterations: int,
    rounds: int,
    pause_s: float = 0.0,
) -> dict[str, list[Any]]:
    """Call every variant's `run(n)` in each round (the order rotating by one each round) and
    collect what they return: `iterations` samples per variant in all."""
    if iterations < 1 or rounds < 1:
        raise InputError(f"need iterations >= 1 and rounds >= 1, got {iterations}/{rounds}")
    out: dict[str, list[Any]] = {label: [] for label in variants}
    order = list(variants)
    for r, n in enumerate(share(iterations, rounds)):
        k = r % len(order)
        for label in order[k:] + order[:k]:
            if pause_s:
                time.sleep(pause_s)
            out[label].extend(variants[label](n))
    return out


def summary(times_ms: list[float]) -> dict[str, float]:
    t = np.asarray(times_ms, dtype=np.float64)
    return {
        "p50": float(np.percentile(t, 50)),
        "p90": float(np.percentile(t, 90)),
        "p99": float(np.percentile(t, 99)),
        "max": float(t.max()),
        "min": float(t.min()),
        "mean": float(t.mean()),
        "std": float(t.std()),
    }


def _timed(runner: Any, feeds: dict[str, np.ndarray]) -> Callable[[int], list[float]]:
    def run(n: int) -> list[float]:
        for _ in range(n):
            runner.infer(feeds, check=False)
        return runner.timing.times_ms[-n:]

    return run


def time_runners(
    targets: dict[str, tuple[Any, dict[str, np.ndarray]]],
    iterations: int = 60,
    warmup: int = 5,
    rounds: int = 6,
) -> dict[str, dict[str, Any]]:
    """Latency of each `(runner, arrays)` in this process, side by side. Runners not yet active
    are activated here (and deactivated after); each takes its graph's inputs from `arrays`,
    checked once.
    Returns {label: {"p50": ms, ..., "iterations": n, "rounds": r}}."""
    runs = {}
    with contextlib.ExitStack() as stack:
        for label, (runner, table) in targets.items():
            if not runner.is_active:
                stack.enter_context(runner)
            feeds = runner.feeds_from(table)
            runner.infer(feeds)  # the input checks, once
            for _ in range(warmup):
                runner.infer(feeds, check=False)
            runs[label] = _timed(runner, feeds)
        times = alternate(runs, iterations, rounds)
    per_round = share(iterations, rounds)
    return {
        label: {**summary(t), "iterations": len(t), "rounds": len(per_round)}
        for label, t in times.items()
    }
