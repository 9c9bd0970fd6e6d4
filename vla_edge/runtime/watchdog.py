"""Faults the loop reacts to, and the watchdog thread that catches an inference overrun.

The loop checks most faults itself, once per cycle (a stale camera frame, a non-finite action,
a failing actuator, an async worker with nothing planned). A synchronous inference that hangs
cannot be caught by the thread that is stuck in it, so `Watchdog` runs beside the loop: when
`predict` has been running for more than N periods it sends the safe command itself, and again
every period until `predict` returns, whose (late) result is then discarded.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable

from vla_edge.runtime.realtime import set_thread_realtime

# fault codes stored per cycle (CycleLog.faults) and their names in the summary
FAULTS = {
    1: "camera_stale",
    2: "inference_overrun",
    3: "non_finite_action",
    4: "actuator_failed",
    5: "policy_error",
    6: "no_action_planned",
}
CAMERA_STALE, OVERRUN, NON_FINITE, ACTUATOR_FAILED, POLICY_ERROR, STARVED = range(1, 7)


class Watchdog:
    """Fires `on_overrun()` when `begin()` is not followed by `end()` within `limit_s`,
    then every `period_s` until `end()`."""

    def __init__(
        self,
        limit_s: float,
        period_s: float,
        on_overrun: Callable[[], None],
        rt_priority: int | None = None,
    ) -> None:
        self.rt_priority = rt_priority
        self.limit_s = limit_s
        self.period_s = period_s
        self.on_overrun = on_overrun
        self.poll_s = min(max(period_s / 2, 0.002), 0.05)
        self._since: float | None = None
        self._fired = 0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="vla-edge-watchdog", daemon=True)
        self.fired_total = 0

    def start(self) -> Watchdog:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=1.0)

    def begin(self) -> None:
        with self._lock:
            self._fired = 0
            self._since = time.monotonic()

    def end(self) -> bool:
        """Mark the end of the watched call; True when the watchdog fired during it."""
        with self._lock:
            self._since = None
            return self._fired > 0

    def _run(self) -> None:
        set_thread_realtime(self.rt_priority)
        next_fire = 0.0
        while not self._stop.wait(self.poll_s):
            if self._since is None:  # cheap check without the lock
                continue
            with self._lock:
                since, now = self._since, time.monotonic()
                if since is None or now - since < self.limit_s:
                    continue
                if self._fired and now < next_fire:
                    continue
                self._fired += 1
                self.fired_total += 1
                next_fire = now + self.period_s
                # the loop reports actuator faults itself
                with contextlib.suppress(Exception):
                    self.on_overrun()
