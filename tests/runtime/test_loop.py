"""The loop with a fake looping camera, fake policies and a recording actuator. Assertions are
about what the actuator received (counts, order, kinds, values), never about milliseconds."""

import numpy as np
import pytest

from tests.fakes.actuators import RecordingActuator
from tests.fakes.cameras import LoopingCamera
from tests.fakes.policies import FakePolicy, make_spec
from vla_edge.errors import RuntimeLoopError
from vla_edge.runtime import ControlLoop, LoopConfig
from vla_edge.runtime.actuators.base import ActuatorSpace
from vla_edge.runtime.timing import DEADLINE, TICK


def run(policy=None, act=None, cams=None, **cfg):
    policy = policy or FakePolicy()
    act = act or RecordingActuator()
    cams = cams or {"front": LoopingCamera()}
    cfg.setdefault("rate_hz", 100.0)
    cfg.setdefault("max_cycles", 30)
    cfg.setdefault("warmup", 1)
    loop = ControlLoop(policy, cams, act, LoopConfig(**cfg))
    return loop, loop.run(), act


def test_rate_held_one_command_per_tick_then_stop():
    loop, s, act = run(max_cycles=40, rate_hz=200.0)
    assert s["cycles"] == 40 and s["stop_reason"] == "40 cycles done"
    assert act.kinds == ["action"] * 40 + ["stop"]
    assert [c.seq for c in act.commands] == list(range(1, 42))
    rows, _ = loop.log.kept()
    # deadlines are t0 + tick * period, and no cycle started before its deadline
    np.testing.assert_allclose(rows[:, DEADLINE] - loop.scheduler.t0, rows[:, TICK] / 200.0)
    t = [c.t for c in act.commands]
    assert t == sorted(t)
    assert t[-2] - loop.scheduler.t0 >= rows[-1, TICK] / 200.0  # never faster than the rate


def test_open_loop_executes_each_chunk_in_order():
    policy = FakePolicy()
    _, s, act = run(policy, max_cycles=16, warmup=0)  # chunk 8: exactly two chunks
    got = act.values()[:16, 0]
    expected = np.concatenate([policy.chunk(1)[:, 0], policy.chunk(2)[:, 0]])
    np.testing.assert_allclose(got, expected)
    assert s["chunking"]["chunks_used"] == 2 and policy.calls == 2


def test_frames_are_resized_to_the_spec_and_instruction_passed():
    policy = FakePolicy(make_spec(size=16))
    run(policy, cams={"front": LoopingCamera(size=40)}, instruction="stack the cups", max_cycles=2)
    shapes, text, _ = policy.inputs[-1]
    assert shapes == {"front": (16, 16, 3)} and text == "stack the cups"


@pytest.mark.parametrize("chunking", ["open-loop", "ensemble", "async", "rtc"])
def test_every_chunking_mode_runs_and_stays_within_limits(chunking):
    policy = FakePolicy(make_spec(low=-0.02, high=0.02))
    _, s, act = run(policy, chunking=chunking, max_cycles=25)
    assert s["cycles"] == 25 and act.kinds[-1] == "stop"
    assert np.abs(act.values()).max() <= 0.02 + 1e-7  # safety clamp always applied
    assert s["faults"] == {}


# --- faults -> safe action --------------------------------------------------------------------


def test_nan_action_holds_the_last_command():
    policy = FakePolicy(nan_calls={2})
    _, s, act = run(policy, max_cycles=12, execute=4, warmup=0)
    k = act.kinds.index("hold")
    assert k == 4  # call 2 happens on the 5th cycle
    np.testing.assert_array_equal(act.commands[k].values, act.commands[k - 1].values)
    assert s["faults"] == {"non_finite_action": 1}
    assert act.kinds[k + 1] == "action"  # resumes with a fresh chunk (call 3)
    np.testing.assert_allclose(act.commands[k + 1].values, policy.chunk(3)[0])
    assert all(np.isfinite(c.values).all() for c in act.commands)


def test_nan_action_with_on_fault_zero_sends_zeros():
    _, s, act = run(FakePolicy(nan_calls={2}), on_fault="zero", execute=4, warmup=0)
    k = act.kinds.index("zero")
    assert act.commands[k].values.tolist() == [0.0] * 4


def test_nan_action_with_on_fault_stop_ends_the_run_with_one_stop():
    _, s, act = run(FakePolicy(nan_calls={2}), on_fault="stop", execute=4, warmup=0)
    assert act.kinds == ["action"] * 4 + ["stop"]
    np.testing.assert_array_equal(act.commands[-1].values, act.commands[-2].values)
    assert s["stop_reason"].startswith("fault (non_finite_action)")


def test_policy_exception_is_a_fault_not_a_crash():
    _, s, act = run(FakePolicy(raise_calls={2}), execute=4, warmup=0, max_cycles=10)
    assert s["faults"] == {"policy_error": 1} and "fake failure" in s["last_error"]
    assert act.kinds.count("hold") == 1 and s["cycles"] == 10


def _after_writes(n, fn):
    def on_write(actuator, command):
        if len(actuator.commands) == n:
            fn()

    return on_write


def test_stale_camera_holds_until_frames_return():
    cam = LoopingCamera()
    holds, loop = [], []

    def on_write(actuator, command):
        if len(actuator.commands) == 5:
            cam.freeze()
        if command.kind == "hold":
            holds.append(command)
            if len(holds) == 3:
                cam.unfreeze()
        elif len(holds) >= 3 and command.kind == "action":
            loop[0].request_stop("recovered")

    act = RecordingActuator(on_write=on_write)
    cfg = LoopConfig(rate_hz=100, stale_ms=30, max_cycles=300, warmup=1)
    loop.append(ControlLoop(FakePolicy(), {"front": cam}, act, cfg))
    s = loop[0].run()
    k = next(i for i in range(5, len(act.kinds)) if act.kinds[i] == "hold")  # after the freeze
    for j in range(k, k + 3):
        np.testing.assert_array_equal(act.commands[j].values, act.commands[k - 1].values)
    assert s["faults"]["camera_stale"] >= 3
    assert s["stop_reason"] == "recovered"  # actions resumed once frames were fresh again


def test_unplugged_camera_is_stale_and_stops_under_on_fault_stop():
    cam = LoopingCamera()
    act = RecordingActuator(on_write=_after_writes(3, cam.break_))
    _, s, act = run(act=act, cams={"front": cam}, stale_ms=100, on_fault="stop", max_cycles=500)
    assert act.kinds[-1] == "stop" and act.kinds.count("stop") == 1
    assert "unplugged" in s["last_error"] and s["faults"] == {"camera_stale": 1}


def test_inference_overrun_fires_the_watchdog_and_discards_the_late_chunk():
    policy = FakePolicy(slow_calls={2: 0.4})  # 40 periods at 100 Hz
    _, s, act = run(policy, execute=4, warmup=0, overrun_periods=3, max_cycles=12)
    holds = [c for c in act.commands if c.kind == "hold"]
    assert len(holds) >= 2  # sent by the watchdog while predict() hung, once per period
    assert "vla-edge-watchdog" in act.threads
    last_action = act.commands[act.kinds.index("hold") - 1]
    assert all(np.array_equal(h.values, last_action.values) for h in holds)
    assert s["faults"] == {"inference_overrun": 1}
    late = policy.chunk(2)[:, 0]
    assert not np.isin(act.values()[:, 0], late).any()  # the late chunk never ran


def test_actuator_failure_sends_the_safe_command_next():
    act = RecordingActuator(fail_writes={5})
    _, s, act = run(act=act, max_cycles=10)
    k = act.kinds.index("hold")
    assert k == 4 and np.array_equal(act.commands[k].values, act.commands[k - 1].values)
    assert s["faults"] == {"actuator_failed": 1} and s["cycles"] == 10


def test_actuator_failing_for_good_stops_the_run():
    act = RecordingActuator(fail_from=6)
    _, s, act = run(act=act, max_actuator_failures=3, max_cycles=1000)
    assert s["stop_reason"].startswith("actuator failed") and s["cycles"] < 20


def test_async_with_too_short_a_chunk_holds_while_nothing_is_planned():
    policy = FakePolicy(make_spec(chunk=2), latency_s=0.1)
    _, s, act = run(policy, chunking="async", max_cycles=30, rate_hz=100)
    assert s["faults"].get("no_action_planned", 0) >= 5
    assert "hold" in act.kinds and act.kinds[-1] == "stop"


def test_async_keeps_the_actuator_at_rate_with_a_model_slower_than_the_period():
    policy = FakePolicy(make_spec(chunk=16), latency_s=0.12)  # 2.4 periods at 20 Hz
    _, s, act = run(policy, chunking="async", max_cycles=40, rate_hz=20)
    assert act.kinds == ["action"] * 40 + ["stop"]
    assert s["faults"] == {} and s["chunking"]["chunks_used"] >= 3
    assert "vla-edge-inference" not in act.threads  # the worker never writes


# --- refusing to start ------------------------------------------------------------------------


def test_action_space_mismatch_is_refused_before_anything_is_sent():
    act = RecordingActuator(space=ActuatorSpace(dim=7))
    with pytest.raises(RuntimeLoopError, match="action space mismatch"):
        run(act=act)
    assert act.commands == [] and not act.connected


def test_camera_names_must_match_the_spec():
    with pytest.raises(RuntimeLoopError, match="needs cameras"):
        run(cams={"wrist": LoopingCamera("wrist")})


def test_wrong_chunk_shape_is_refused_at_start():
    policy = FakePolicy(make_spec(chunk=4))
    policy.chunk = lambda n: np.zeros((8, 4), np.float32)  # but it returns 8-step chunks
    with pytest.raises(RuntimeLoopError, match="re-export"):
        run(policy)


def test_state_comes_from_the_actuator_or_a_fallback_asked_for():
    policy = FakePolicy(make_spec(state_dim=3))
    run(policy, act=RecordingActuator(state=np.array([1, 2, 3], np.float32)), max_cycles=2)
    assert policy.inputs[-1][2].tolist() == [1, 2, 3]
    policy = FakePolicy(make_spec(state_dim=3))
    _, s, _ = run(policy, max_cycles=2, state="zeros")
    assert policy.inputs[-1][2].tolist() == [0, 0, 0] and s["state_source"].startswith("zeros")
    act = RecordingActuator()
    with pytest.raises(RuntimeLoopError, match="reports none"):  # never guessed (issue 12)
        run(FakePolicy(make_spec(state_dim=3)), act=act, max_cycles=2)
    assert act.commands == []


def test_several_cameras_are_matched_by_name():
    policy = FakePolicy(make_spec(cameras=("wrist", "top"), size=16))
    cams = {"top": LoopingCamera("top", size=24), "wrist": LoopingCamera("wrist", size=16)}
    loop, s, _ = run(policy, cams=cams, max_cycles=3)
    assert policy.inputs[-1][0] == {"wrist": (16, 16, 3), "top": (16, 16, 3)}
    assert set(s["camera_frames"]) == {"wrist", "top"} and s["faults"] == {}


def test_rt_priority_runs_the_loop_under_sched_fifo_and_restores_it():
    import os

    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(1))
        os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))
    except (PermissionError, AttributeError):
        pytest.skip("SCHED_FIFO is not permitted here (needs CAP_SYS_NICE)")
    seen = []
    act = RecordingActuator(on_write=lambda a, c: seen.append(os.sched_getscheduler(0)))
    cam = LoopingCamera()
    run(act=act, cams={"front": cam}, rt_priority=5, max_cycles=5)
    assert set(seen) == {os.SCHED_FIFO}
    assert os.sched_getscheduler(0) == os.SCHED_OTHER
