"""The summary of a run: what ran, how long each stage took, what went wrong.

Times are milliseconds. `stages_ms` are per-cycle stage durations (a stage a cycle skips counts
0 ms, so open-loop inference percentiles mix inferring and non-inferring cycles: read
`inference_ms` for the inference calls alone). `loop_overhead_ms` = cycle - in-loop inference.
`end_to_end_ms` runs from the capture stamp of the frame behind the action to the end of the
actuator write. `start_lateness_ms` is the cycle start minus its deadline (the start jitter).
"""

from __future__ import annotations

import numpy as np

from vla_edge.runtime.timing import summarize


def build_summary(loop) -> dict:
    cfg, log = loop.config, loop.log
    elapsed = max(loop.t_end - loop.scheduler.t0, 1e-9) if loop.scheduler.t0 else 0.0
    timing = summarize(log, loop.period)
    return {
        "policy": _policy_info(loop),
        "config": {
            "rate_hz": cfg.rate_hz,
            "chunking": cfg.chunking,
            "on_fault": cfg.on_fault,
            "stale_ms": round(cfg.stale_s * 1e3, 3),
            "overrun_periods": cfg.overrun_periods,
            "max_step": cfg.max_step,
            "instruction": cfg.instruction,
        },
        "cameras": {n: cam.describe() for n, cam in loop.cameras.items()},
        "actuator": loop.actuator.describe(),
        "state_source": getattr(loop, "state_source", "none"),
        "action_kind": {"kinds": loop.action_kinds, "from": loop.kind_source},
        "stop_reason": loop.stop_reason,
        "cycles": log.cycles,
        "elapsed_s": round(elapsed, 3),
        "achieved_rate_hz": round(log.cycles / elapsed, 3) if elapsed else None,
        "deadline_misses": loop.misses,
        "skipped_ticks": loop.scheduler.skipped,
        "commands": dict(loop.sent),
        "faults": dict(loop.faults),
        "last_error": loop.last_error,
        "watchdog_fired": loop.watchdog.fired_total if loop.watchdog else 0,
        "safety": {"clamped": loop.safety.clamped, "rate_limited": loop.safety.rate_limited},
        "chunking": loop.chunker.info(),
        "warmup_latency_ms": round(getattr(loop, "warmup_latency_ms", float("nan")), 3),
        "warmup": {
            **(getattr(loop, "warmup_stats", None) or {}),
            **(getattr(loop, "warmup_check", None) or {}),
        },
        "policy_actions_sent": loop.sent.get("action", 0),
        "no_action_reason": _no_action_reason(loop),
        "camera_frames": {n: cam.frames_captured for n, cam in loop.cameras.items()},
        **_extra(loop),
        **timing,
    }


def _no_action_reason(loop) -> str | None:
    """Why a run sent no policy action (None when it sent some): it must not pass as a run."""
    if loop.sent.get("action", 0):
        return None
    faults = ", ".join(f"{n} x{k}" for n, k in loop.faults.items()) or "none"
    return (
        f"no policy action was sent in {loop.log.cycles} cycles (faults: {faults}; last error: "
        f"{loop.last_error}; stopped: {loop.stop_reason})"
    )


def _policy_info(loop) -> dict:
    spec = loop.spec
    return {
        "source": str(getattr(loop.policy, "source", type(loop.policy).__name__)),
        "backend": getattr(loop.policy, "backend", None),
        "cameras": spec.camera_names,
        "action_names": spec.action.names,
        "chunk": spec.action.chunk,
    }


def _extra(loop) -> dict:
    out: dict = {}
    refused = getattr(loop.actuator, "refused", 0)
    if refused:
        out["udp_refused"] = refused
    if getattr(loop, "shutdown_errors", None):
        out["shutdown_errors"] = loop.shutdown_errors
    sim = getattr(loop.actuator, "episode", None)
    if sim is not None:
        out["sim"] = sim
    if loop.log.worker:
        spans = np.array([(s.end - s.start) * 1e3 for s in loop.log.worker])
        out["worker_inferences"] = len(loop.log.worker)
        out["worker_inference_ms_max"] = round(float(spans.max()), 3)
    return out


def headline(summary: dict) -> str:
    """One line for humans: rate, misses, faults, p99 of cycle, overhead and end-to-end."""

    def p(key: str, q: str = "p99") -> str:
        v = (summary.get(key) or {}).get(q)
        return "n/a" if v is None else f"{v:.2f}"

    faults = sum(summary.get("faults", {}).values())
    return (
        f"{summary['cycles']} cycles at {summary.get('achieved_rate_hz')} Hz "
        f"(asked {summary['config']['rate_hz']}), misses {summary['deadline_misses']}, "
        f"faults {faults}; p99 ms: cycle {p('cycle_ms')}, overhead {p('loop_overhead_ms')}, "
        f"end-to-end {p('end_to_end_ms')}, start lateness {p('start_lateness_ms')}"
    )
