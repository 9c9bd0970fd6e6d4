"""Fixed-rate scheduling against absolute deadlines.

Tick k is due at `t0 + k * period`. The scheduler computes every deadline from t0 (never from
"now + period"), so a late cycle does not push the following ones back and the loop does not
drift, however long it runs. It sleeps until `spin_s` before the deadline and then spins on the
clock for the last stretch, because `time.sleep` on a general-purpose kernel wakes up late by
50 us to a few ms.

When a cycle overruns so far that one or more whole ticks have passed, those ticks are skipped
(counted in `skipped`), not run back to back: a robot wants the newest command on time, not a
burst of stale ones.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from vla_edge.errors import RuntimeLoopError


@dataclass
class Tick:
    index: int  # tick number since start (jumps over skipped ticks)
    deadline: float  # monotonic time the tick was due
    start: float  # monotonic time the cycle actually started
    skipped: int  # ticks skipped just before this one


class RateScheduler:
    """`wait()` returns the next Tick at its deadline. Not thread-safe: one loop owns it."""

    def __init__(self, rate_hz: float, spin_s: float = 0.001) -> None:
        if not (isinstance(rate_hz, (int, float)) and math.isfinite(rate_hz) and rate_hz > 0):
            raise RuntimeLoopError(f"rate must be a positive number of Hz, got {rate_hz!r}")
        if rate_hz > 10_000:
            raise RuntimeLoopError(f"rate {rate_hz} Hz is above the 10 kHz this loop supports")
        if spin_s < 0:
            raise RuntimeLoopError(f"spin time must be >= 0 s, got {spin_s}")
        self.rate_hz = float(rate_hz)
        self.period = 1.0 / self.rate_hz
        self.spin_s = min(spin_s, self.period / 2)
        self.t0: float | None = None
        self.next_index = 0
        self.skipped = 0

    def start(self, t0: float | None = None) -> None:
        """Fix tick 0 at `t0` (default: now)."""
        self.t0 = time.monotonic() if t0 is None else t0
        self.next_index = 0
        self.skipped = 0

    def deadline(self, index: int) -> float:
        assert self.t0 is not None, "call start() first"
        return self.t0 + index * self.period

    def wait(self) -> Tick:
        if self.t0 is None:
            self.start()
        index = self.next_index
        now = time.monotonic()
        skipped = 0
        if now >= self.deadline(index) + self.period:  # whole ticks already gone: skip them
            late_index = int((now - self.t0) / self.period)
            skipped = late_index - index
            index = late_index
        due = self.deadline(index)
        _sleep_until(due, self.spin_s)
        start = time.monotonic()
        self.next_index = index + 1
        self.skipped += skipped
        return Tick(index=index, deadline=due, start=start, skipped=skipped)


def _sleep_until(due: float, spin_s: float) -> None:
    """Sleep until `spin_s` before `due`, then spin; returns at once if `due` has passed."""
    remaining = due - time.monotonic()
    if remaining > spin_s:
        time.sleep(remaining - spin_s)
    while time.monotonic() < due:
        pass
