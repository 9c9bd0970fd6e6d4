"""LoopConfig: every setting of the control loop, validated on construction."""

from __future__ import annotations

import math
from dataclasses import dataclass

from vla_edge.errors import RuntimeLoopError
from vla_edge.runtime.chunking import CHUNKING
from vla_edge.runtime.safety import ON_FAULT


@dataclass
class LoopConfig:
    rate_hz: float = 30.0
    instruction: str = ""
    chunking: str = "open-loop"
    execute: int | None = None  # actions executed per chunk (default: per strategy)
    on_fault: str = "hold"
    stale_ms: float | None = None  # max frame age; default max(250 ms, 3 periods)
    overrun_periods: int = 3  # a synchronous inference longer than this many periods faults
    duration_s: float | None = None
    max_cycles: int | None = None
    max_step: float | None = None  # rate limit: max change per step, fraction of the range
    spin_ms: float = 1.0  # busy-wait before each deadline (precision vs CPU)
    max_actuator_failures: int = 10  # consecutive failed writes before the run stops
    # inferences on live frames before the clock starts (nothing is sent); all but the first
    # are timed, and a synchronous loop whose p99 exceeds its overrun budget refuses to start
    warmup: int = 5
    log_capacity: int = 100_000  # cycles kept for percentiles and the trace
    ensemble_m: float | None = None  # None: the spec's ensemble_coeff, else 0.01 (ACT's)
    rt_priority: int | None = None  # SCHED_FIFO priority (1..99) of the loop thread (Linux)
    # what the actions mean, overriding the spec: "delta" | "absolute" or one per dimension
    action_kind: str | list[str] | None = None
    # the state fed to a policy that takes one when the actuator reports none: "mean" (the
    # training mean), "zeros", or the values; None: such a run is refused (never guessed)
    state: str | list[float] | None = None

    def __post_init__(self) -> None:
        if not (math.isfinite(self.rate_hz) and 0 < self.rate_hz <= 10_000):
            raise RuntimeLoopError(f"rate must be in (0, 10000] Hz, got {self.rate_hz}")
        if self.chunking not in CHUNKING:
            raise RuntimeLoopError(
                f"chunking must be one of {', '.join(CHUNKING)}, got {self.chunking!r}"
            )
        if self.on_fault not in ON_FAULT:
            raise RuntimeLoopError(
                f"on-fault must be one of {', '.join(ON_FAULT)}, got {self.on_fault!r}"
            )
        self._positive("stale_ms", self.stale_ms)
        self._positive("duration_s", self.duration_s)
        for name in ("overrun_periods", "max_actuator_failures"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise RuntimeLoopError(
                    f"{name} must be an integer >= 1, got {getattr(self, name)!r}"
                )
        if self.max_cycles is not None and self.max_cycles < 1:
            raise RuntimeLoopError(f"max_cycles must be >= 1, got {self.max_cycles}")
        if self.warmup < 0 or self.spin_ms < 0:
            raise RuntimeLoopError("warmup and spin_ms must be >= 0")
        if self.rt_priority is not None and not 1 <= self.rt_priority <= 99:
            raise RuntimeLoopError(f"rt_priority must be 1..99, got {self.rt_priority}")
        if isinstance(self.state, str) and self.state not in ("mean", "zeros"):
            raise RuntimeLoopError(
                f"state must be 'mean', 'zeros' or a list of numbers, got {self.state!r}"
            )
        if self.max_step is not None and not 0 < self.max_step <= 1:
            raise RuntimeLoopError(f"max_step must be in (0, 1] of the range, got {self.max_step}")

    @staticmethod
    def _positive(name: str, value: float | None) -> None:
        if value is not None and not value > 0:
            raise RuntimeLoopError(f"{name} must be > 0, got {value}")

    @property
    def period_s(self) -> float:
        return 1.0 / self.rate_hz

    @property
    def stale_s(self) -> float:
        if self.stale_ms is not None:
            return self.stale_ms / 1e3
        return max(0.25, 3 * self.period_s)
