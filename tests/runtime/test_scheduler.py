"""The scheduler runs against absolute deadlines: it cannot drift, it skips lost ticks, and it
never starts a cycle before its deadline. A simulated clock makes these exact, not timed."""

import time

import pytest

from vla_edge.errors import RuntimeLoopError
from vla_edge.runtime import scheduler as sched_mod
from vla_edge.runtime.scheduler import RateScheduler


class FakeClock:
    """monotonic() and sleep(); every sleep oversleeps by `late` seconds, like a busy kernel."""

    def __init__(self, late: float = 0.0004) -> None:
        self.t = 1000.0
        self.late = late

    def monotonic(self) -> float:
        self.t += 2e-6  # reading the clock costs a little time, so spinning ends
        return self.t

    def sleep(self, s: float) -> None:
        self.t += s + self.late


@pytest.fixture
def clock(monkeypatch):
    c = FakeClock()
    monkeypatch.setattr(sched_mod, "time", c)
    return c


def test_deadlines_are_absolute_so_oversleeping_never_accumulates(clock):
    s = RateScheduler(100.0, spin_s=0.001)
    s.start()
    ticks = []
    for _ in range(10_000):
        tick = s.wait()
        ticks.append(tick)
        clock.t += 0.003  # the cycle's work
    assert [t.index for t in ticks] == list(range(10_000))
    for t in ticks[::997]:
        assert t.deadline == pytest.approx(s.t0 + t.index * 0.01, abs=1e-9)
    last = ticks[-1]
    assert last.start - last.deadline < 0.001  # no drift after 10,000 periods
    assert all(t.start >= t.deadline for t in ticks)
    assert s.skipped == 0


def test_whole_lost_ticks_are_skipped_not_replayed(clock):
    s = RateScheduler(100.0)
    s.start()
    s.wait()
    clock.t += 0.035  # a 35 ms stall in a 10 ms period
    tick = s.wait()
    assert tick.skipped >= 2 and tick.index == 1 + tick.skipped
    assert tick.start >= tick.deadline
    assert s.wait().index == tick.index + 1


def test_real_clock_never_starts_early():
    s = RateScheduler(500.0)
    s.start()
    ticks = [s.wait() for _ in range(50)]
    assert all(t.start >= t.deadline for t in ticks)
    assert ticks[-1].start >= s.t0 + ticks[-1].index * s.period
    assert time.monotonic() >= s.deadline(ticks[-1].index)


@pytest.mark.parametrize("rate", [0, -5, float("nan"), float("inf"), 1e6])
def test_bad_rate_is_refused(rate):
    with pytest.raises(RuntimeLoopError, match="rate"):
        RateScheduler(rate)
