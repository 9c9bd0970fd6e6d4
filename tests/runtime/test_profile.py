import json

import numpy as np
import pytest

from tests.fakes.actuators import RecordingActuator
from tests.fakes.cameras import LoopingCamera
from tests.fakes.policies import FakePolicy
from vla_edge.runtime import ControlLoop, LoopConfig
from vla_edge.runtime.profile import trace_events, write_profile
from vla_edge.runtime.report import headline
from vla_edge.runtime.timing import STAGES, CycleLog


@pytest.fixture(scope="module")
def finished_loop():
    policy = FakePolicy(nan_calls={3}, latency_s=0.002)
    cfg = LoopConfig(rate_hz=100, max_cycles=40, execute=4, warmup=1)
    loop = ControlLoop(policy, {"front": LoopingCamera()}, RecordingActuator(), cfg)
    return loop, loop.run()


def test_summary_has_every_figure(finished_loop):
    _, s = finished_loop
    for key in ("cycle_ms", "loop_overhead_ms", "end_to_end_ms", "start_lateness_ms"):
        assert set(s[key]) >= {"p50", "p90", "p99", "max"} and s[key]["n"] > 0
    assert set(s["stages_ms"]) == set(STAGES)
    assert s["cycles"] == 40 and s["faults"] == {"non_finite_action": 1}
    assert s["end_to_end_ms"]["p50"] > 0  # capture stamp precedes the write
    assert s["deadline_misses"] >= 0 and "40 cycles" in headline(s)
    json.dumps(s)  # serializable as is


def test_profile_dir_has_summary_trace_and_plot(finished_loop, tmp_path):
    pytest.importorskip("matplotlib")
    loop, s = finished_loop
    paths = write_profile(tmp_path / "prof", s, loop.log)
    assert json.loads((tmp_path / "prof" / "summary.json").read_text())["cycles"] == 40
    trace = json.loads((tmp_path / "prof" / "trace.json").read_text())
    slices = [e for e in trace["traceEvents"] if e["ph"] == "X"]
    assert {e["name"] for e in slices} >= {"capture", "inference", "actuate"}
    assert all(e["dur"] >= 0 and e["ts"] >= 0 for e in slices)
    assert any(e["ph"] == "i" and "non_finite" in e["name"] for e in trace["traceEvents"])
    assert any(e["ph"] == "C" and e["name"] == "end_to_end_ms" for e in trace["traceEvents"])
    png = (tmp_path / "prof" / "timeline.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and "plot" in paths


def test_ring_keeps_the_last_cycles_and_counts_all():
    log = CycleLog(capacity=16)
    for i in range(40):
        row = log.begin(i, float(i), float(i))
        row[2:7] = [float(i) + 0.5] * 5
        log.end(row)
    rows, _ = log.kept()
    assert log.cycles == 40 and rows.shape[0] == 16
    np.testing.assert_array_equal(rows[:, 1], np.arange(24, 40))
    assert len([e for e in trace_events(log)["traceEvents"] if e["ph"] == "X"]) == 16


def test_status_line_reads_the_counters(finished_loop):
    from vla_edge.runtime.status import StatusLine

    loop, _ = finished_loop
    text = StatusLine(loop).text()
    assert text.startswith("cycle 40") and "misses" in text and "faults 1" in text
