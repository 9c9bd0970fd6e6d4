"""The one side-by-side latency helper: every variant runs in every round, the order rotates."""

from __future__ import annotations

import numpy as np
import pytest

from vla_edge.bench.latency import alternate, share, time_runners
from vla_edge.errors import InputError


def test_rounds_alternate_and_rotate():
    log = []

    def variant(name):
        def run(n):
            log.append((name, n))
            return [name] * n

        return run

    out = alternate({"a": variant("a"), "b": variant("b"), "c": variant("c")}, 10, 4)
    assert {k: len(v) for k, v in out.items()} == {"a": 10, "b": 10, "c": 10}
    assert share(10, 4) == [3, 3, 2, 2]
    order = [name for name, _ in log]
    assert order == ["a", "b", "c", "b", "c", "a", "c", "a", "b", "a", "b", "c"]
    with pytest.raises(InputError):
        alternate({"a": variant("a")}, 0, 1)


def test_time_runners_uses_each_runners_own_timing(tiny_bundle):
    from vla_edge.backends import RunnerOptions, runner_for
    from vla_edge.bundle import Bundle

    b = Bundle.load(tiny_bundle("bins"))
    feeds = {"input_ids": np.ones((1, 32), np.int64), "attention_mask": np.ones((1, 32), np.int64)}
    opts = RunnerOptions(threads=1, spinning=False)
    a = runner_for(b, "instruction_encoder", options=opts)
    c = runner_for(b, "instruction_encoder", options=opts)
    stats = time_runners({"a": (a, feeds), "c": (c, feeds)}, iterations=12, warmup=2, rounds=3)
    assert set(stats) == {"a", "c"} and not a.is_active and not c.is_active
    for s in stats.values():
        assert s["iterations"] == 12 and s["rounds"] == 3 and 0 < s["min"] <= s["p50"] <= s["max"]
    assert len(a.timing.times_ms) == 1 + 2 + 12  # checked once, warmed up, timed
