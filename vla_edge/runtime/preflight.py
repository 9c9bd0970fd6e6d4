"""Checks before the first command: is the policy fast enough for the loop as configured, and
does it get the inputs it needs.

A synchronous loop (open-loop, ensemble) infers inside the cycle: an inference longer than
`overrun_periods` periods is a fault, and if every inference is, the run would send nothing
but safe commands. So the warm-up inferences are timed and, when their p99 exceeds that
budget, the loop refuses to start and names the settings that fit the measured p99 (with a
25 % margin): a lower `--rate`, `--chunking async` (when the chunk covers the inference), a
larger `--overrun-periods`.
"""

from __future__ import annotations

import math

import numpy as np

from vla_edge.errors import RuntimeLoopError

MARGIN = 1.25  # headroom over the measured p99 in the settings suggested
# async: the worker's inference shares the CPU with the loop and camera threads; measured on a
# loaded 2-core machine it ran up to 1.7x the warm-up p99 (results/run_preflight_small.md)
ASYNC_MARGIN = 2.0


def warmup_stats(times_s: list[float]) -> dict | None:
    """p50/p99/max (ms) of the warm-up calls after the first (cold) one; None if < 2 calls."""
    timed = np.asarray(times_s[1:], dtype=np.float64) * 1e3
    if timed.size == 0:
        return None
    return {
        "calls": int(timed.size),
        "p50_ms": round(float(np.percentile(timed, 50)), 3),
        "p99_ms": round(float(np.percentile(timed, 99)), 3),
        "max_ms": round(float(timed.max()), 3),
    }


def check_budget(stats: dict | None, config, chunk: int, asynchronous: bool) -> dict | None:
    """The overrun budget of a synchronous loop against the warm-up p99; RuntimeLoopError naming
    the options that fit when it is exceeded. Returns the budget record (None: not checked)."""
    if stats is None or asynchronous:
        return None
    period_ms = 1e3 / config.rate_hz
    budget_ms = config.overrun_periods * period_ms
    record = {"budget_ms": round(budget_ms, 3), "p99_ms": stats["p99_ms"], "fits": True}
    if stats["p99_ms"] <= budget_ms:
        return record
    p99 = stats["p99_ms"] * MARGIN
    rate = _round_down(config.overrun_periods * 1e3 / p99)
    options = [
        f"--rate {rate:g} (the most that keeps {config.overrun_periods} periods above the "
        f"p99 with {MARGIN - 1:.0%} margin)"
    ]
    p99_async = stats["p99_ms"] * ASYNC_MARGIN
    if chunk > 1 and p99_async < (chunk - 1) * period_ms:
        options.append(
            f"--chunking async (the next chunk is computed while this one's {chunk} actions "
            f"run: {chunk - 1} periods = {(chunk - 1) * period_ms:.0f} ms > 2x the p99)"
        )
    elif chunk > 1:
        async_rate = _round_down((chunk - 1) * 1e3 / p99_async)
        options.append(
            f"--chunking async --rate {async_rate:g} (a chunk of {chunk} covers 2x the p99)"
        )
    periods = math.ceil(p99 / period_ms)
    options.append(
        f"--overrun-periods {periods} (the loop then blocks up to {periods} periods per "
        "inference: commands arrive late)"
    )
    raise RuntimeLoopError(
        f"the policy is too slow for this loop: warm-up inference p99 {stats['p99_ms']:.1f} ms "
        f"(p50 {stats['p50_ms']:.1f} ms, {stats['calls']} calls) exceeds the overrun budget of "
        f"{config.overrun_periods} periods at {config.rate_hz:g} Hz = {budget_ms:.1f} ms, so "
        "every inference would fault and no policy action be sent. Options that fit: "
        + "; ".join(options)
        + ". Or make inference faster (vla-edge quantize, a GPU backend, a less loaded machine)"
    )


def _round_down(hz: float) -> float:
    """Two significant digits, rounded down (a suggested rate never exceeds what fits)."""
    if hz <= 0:
        return 0.0
    scale = 10 ** (math.floor(math.log10(hz)) - 1)
    return math.floor(hz / scale) * scale


def fallback_state(spec, config, actuator: str) -> tuple[np.ndarray, str]:
    """The state given to a policy that takes one when the actuator reports none: what
    `config.state` asks for; refused (RuntimeLoopError) when nothing was asked for."""
    n = spec.state_dim
    if not n:
        return np.zeros(0, np.float32), "none (the policy takes no state)"
    asked = config.state
    if asked is None:
        raise RuntimeLoopError(
            f"this policy takes a proprio state of {n} values and actuator {actuator} reports "
            "none: a made-up state is not fed silently. Use an actuator that reports the "
            "robot's state, or ask for a fixed one: --state mean (the training mean), "
            f"--state zeros, or --state v1,...,v{n}"
        )
    if asked == "mean":
        mean = spec.normalization.state_mean
        if mean is None:
            raise RuntimeLoopError(
                "--state mean: this policy's spec records no state mean; use --state zeros "
                f"or --state v1,...,v{n}"
            )
        return np.asarray(mean, np.float32), "state_mean (--state mean; the actuator reports none)"
    if asked == "zeros":
        return np.zeros(n, np.float32), "zeros (--state zeros; the actuator reports none)"
    values = np.asarray(asked, np.float32).ravel()
    if values.size != n or not np.isfinite(values).all():
        raise RuntimeLoopError(
            f"--state: this policy takes {n} finite values, got {values.size}: {asked}"
        )
    return values, "fixed (--state values; the actuator reports none)"
