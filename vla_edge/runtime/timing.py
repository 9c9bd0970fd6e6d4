"""Per-cycle timestamps of the control loop and their summary.

Every cycle writes one row of time.monotonic() stamps into a preallocated ring (a fixed size,
so memory stays flat over hours): the scheduled deadline, the actual start, the end of each
stage (capture, preprocess, inference, postprocess, actuate) and the capture stamp of the frame
that produced the action sent. The row is filled as a plain list and stored in one numpy call,
because on a busy machine each numpy call right after a sleep costs tens of microseconds.
Stages a cycle skips (no inference on an open-loop step) end when the previous stage ended, so
their duration is zero.

Counters (cycles, misses, faults) cover the whole run; percentiles cover the rows kept in the
ring (the last `capacity` cycles, 100,000 by default: about an hour at 30 Hz).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

STAGES = ("capture", "preprocess", "inference", "postprocess", "actuate")
# columns of a row
DEADLINE, START = 0, 1
STAGE_COL = {name: 2 + i for i, name in enumerate(STAGES)}
FRAME_STAMP = 2 + len(STAGES)  # capture stamp of the frame behind the action sent
INFER_MS = FRAME_STAMP + 1  # inference time of the chunk behind this action (any thread)
TICK = INFER_MS + 1  # scheduler tick index
N_COLS = TICK + 1

FAULT_NONE = 0
NAN = float("nan")


@dataclass
class WorkerSpan:
    """One inference run in the async worker thread: when it started and ended."""

    start: float
    end: float
    obs_tick: int


@dataclass
class CycleLog:
    """Ring buffer of per-cycle stamps plus run-wide counters."""

    capacity: int = 100_000
    rows: np.ndarray = field(init=False, repr=False)
    faults: np.ndarray = field(init=False, repr=False)
    cycles: int = 0
    worker: list[WorkerSpan] = field(default_factory=list)
    worker_capacity: int = 20_000

    def __post_init__(self) -> None:
        if not isinstance(self.capacity, int) or self.capacity < 16:
            raise ValueError(f"CycleLog capacity must be an integer >= 16, got {self.capacity!r}")
        # np.full touches every page now, so the resident size does not creep up as rows fill.
        self.rows = np.full((self.capacity, N_COLS), np.nan)
        self.faults = np.zeros(self.capacity, dtype=np.int16)

    # --- writing (called from the loop thread) --------------------------------------------------
    def begin(self, tick: int, deadline: float, start: float) -> list[float]:
        """A new row as a plain list (cheap to stamp with `row[col] = now()`); `end` stores it."""
        row = [NAN] * N_COLS
        row[DEADLINE], row[START], row[TICK] = deadline, start, tick
        return row

    def end(self, row: list[float], fault: int = FAULT_NONE) -> None:
        i = self.cycles % self.capacity
        self.rows[i] = row
        if fault or self.faults[i]:
            self.faults[i] = fault
        self.cycles += 1

    def add_worker_span(self, span: WorkerSpan) -> None:
        self.worker.append(span)
        if len(self.worker) > self.worker_capacity:
            del self.worker[: len(self.worker) - self.worker_capacity]

    # --- reading --------------------------------------------------------------------------------
    def kept(self) -> tuple[np.ndarray, np.ndarray]:
        """Rows and fault codes of the kept cycles, oldest first."""
        n = min(self.cycles, self.capacity)
        if self.cycles <= self.capacity:
            return self.rows[:n].copy(), self.faults[:n].copy()
        cut = self.cycles % self.capacity
        order = np.r_[cut : self.capacity, 0:cut]
        return self.rows[order].copy(), self.faults[order].copy()


def stage_durations_ms(rows: np.ndarray) -> dict[str, np.ndarray]:
    """Duration of each stage per row, in ms (a skipped stage lasts 0)."""
    prev = rows[:, START]
    out: dict[str, np.ndarray] = {}
    for name in STAGES:
        end = rows[:, STAGE_COL[name]]
        end = np.where(np.isnan(end), prev, end)
        out[name] = (end - prev) * 1e3
        prev = end
    return out


def percentiles(values: np.ndarray) -> dict[str, float | None]:
    """p50/p90/p99/max/mean of the finite values, in the unit given; None when there are none."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return {"n": 0, "p50": None, "p90": None, "p99": None, "max": None, "mean": None}
    p50, p90, p99 = np.percentile(v, [50, 90, 99])
    return {
        "n": int(v.size),
        "p50": round(float(p50), 4),
        "p90": round(float(p90), 4),
        "p99": round(float(p99), 4),
        "max": round(float(v.max()), 4),
        "mean": round(float(v.mean()), 4),
    }


def summarize(log: CycleLog, period_s: float) -> dict:
    """Latency summary of the kept cycles: stages, cycle, overhead, end-to-end, start jitter."""
    rows, _ = log.kept()
    if rows.shape[0] == 0:
        return {"cycles_kept": 0}
    stages = stage_durations_ms(rows)
    start = rows[:, START]
    end = rows[:, STAGE_COL["actuate"]]
    cycle_ms = (end - start) * 1e3
    inference_in_loop = stages["inference"]
    intervals = np.diff(start) * 1e3
    ticks = np.diff(rows[:, TICK])
    steady = intervals[ticks == 1]  # intervals between consecutive ticks (no skipped tick)
    return {
        "cycles_kept": int(rows.shape[0]),
        "stages_ms": {name: percentiles(d) for name, d in stages.items()},
        "cycle_ms": percentiles(cycle_ms),
        "loop_overhead_ms": percentiles(cycle_ms - inference_in_loop),
        "end_to_end_ms": percentiles((end - rows[:, FRAME_STAMP]) * 1e3),
        "inference_ms": percentiles(rows[:, INFER_MS]),
        "start_lateness_ms": percentiles((start - rows[:, DEADLINE]) * 1e3),
        "start_interval_ms": percentiles(steady),
        "start_interval_error_ms": percentiles(np.abs(steady - period_s * 1e3)),
    }


def now() -> float:
    """The loop's clock (monotonic seconds). Camera capture stamps use the same clock."""
    return time.monotonic()
