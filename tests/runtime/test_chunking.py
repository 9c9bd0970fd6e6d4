import numpy as np
import pytest

from vla_edge.errors import RuntimeLoopError
from vla_edge.runtime.chunking import (
    AsyncChunks,
    Ensemble,
    OpenLoop,
    RealTimeChunks,
    make_chunker,
    rtc_weight,
)


def chunk(base: float, h: int = 6, dim: int = 2) -> np.ndarray:
    return np.repeat((base + np.arange(h, dtype=np.float32))[:, None], dim, axis=1)


def test_open_loop_executes_the_chunk_then_asks_again():
    c = OpenLoop(horizon=6, execute=4)
    assert c.wants_observation(0)
    c.add_chunk(chunk(0), 0, 0)
    got = []
    for tick in range(4):
        assert not c.wants_observation(tick)
        got.append(c.action(tick)[0])
    assert got == [0, 1, 2, 3]
    assert c.wants_observation(4)


def test_ensemble_uses_act_weights_oldest_first():
    c = Ensemble(horizon=4, m=0.5)
    c.add_chunk(chunk(0, 4), 0, 0)
    c.add_chunk(chunk(100, 4), 1, 1)
    # tick 1: oldest chunk predicts 1, newer predicts 100; weights exp(0), exp(-0.5)
    w = np.exp(-0.5 * np.arange(2))
    expected = (w[0] * 1 + w[1] * 100) / w.sum()
    assert c.action(1)[0] == pytest.approx(expected, rel=1e-5)
    assert c.wants_observation(2)


def test_async_skips_the_actions_that_passed_during_inference():
    c = AsyncChunks(horizon=6)
    c.set_latency(0.025, period_s=0.01)  # 3 ticks
    assert c.delay == 3 and c.horizon_s() == 2
    c.add_chunk(chunk(0), 0, 0)
    assert not c.wants_observation(1) and c.wants_observation(2)
    c.requested()
    assert not c.wants_observation(3)  # one request at a time
    assert c.add_chunk(chunk(10), obs_tick=2, now_tick=4)
    assert c.action(4)[0] == 12  # index 2 of the new chunk: ticks 2 and 3 are gone
    assert not c.add_chunk(chunk(20), obs_tick=4, now_tick=10)  # older than the horizon
    assert c.chunks_stale == 1


def test_async_discards_a_chunk_asked_for_before_a_fault():
    c = AsyncChunks(horizon=6)
    c.add_chunk(chunk(0), 0, 0)
    c.requested()
    c.reset(tick=5)
    assert c.action(5) is None
    assert not c.add_chunk(chunk(10), obs_tick=3, now_tick=6)
    assert c.wants_observation(6)


def test_rtc_soft_mask():
    h, s, d = 10, 4, 2
    weights = [rtc_weight(i, d, s, h) for i in range(h)]
    assert weights[:d] == [1.0, 1.0]
    assert weights[h - s :] == [0.0] * s
    inner = weights[d : h - s]
    assert all(0 < w < 1 for w in inner)
    assert inner == sorted(inner, reverse=True)


def test_rtc_blends_the_new_chunk_into_the_executing_one():
    c = RealTimeChunks(horizon=8)
    c.set_latency(0.015, period_s=0.01)  # d = 2
    c.add_chunk(chunk(0, 8), 0, 0)
    new = chunk(100, 8)
    c.add_chunk(new, obs_tick=4, now_tick=6)  # d = 2 realised
    # the first action taken from the new chunk is pulled toward the old chunk's plan
    old_plan, raw = 6.0, 102.0
    first = c.action(6)[0]
    assert old_plan < first < raw
    assert c.action(11)[0] == pytest.approx(107)  # beyond the old chunk: untouched


def test_bad_names_and_execute():
    with pytest.raises(RuntimeLoopError, match="chunking"):
        make_chunker("bogus", 8)
    with pytest.raises(RuntimeLoopError, match="execute"):
        make_chunker("open-loop", 8, execute=9)
