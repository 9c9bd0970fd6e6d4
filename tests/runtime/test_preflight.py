"""Checks before the first command: the warm-up p99 against the overrun budget (refused with
the options that fit, and those options do fit), a run that sent no policy action, a state
never guessed, an instruction never empty, one image per camera."""

import json
import re

import numpy as np
import pytest
from typer.testing import CliRunner

from tests.fakes.actuators import RecordingActuator
from tests.fakes.cameras import LoopingCamera
from tests.fakes.policies import FakePolicy, make_spec
from vla_edge.cli.main import app
from vla_edge.errors import RuntimeLoopError
from vla_edge.runtime import ControlLoop, LoopConfig
from vla_edge.runtime.preflight import check_budget, warmup_stats


def loop_run(policy, act=None, **cfg):
    act = act or RecordingActuator()
    loop = ControlLoop(policy, {"front": LoopingCamera()}, act, LoopConfig(**cfg))
    return loop.run(), act


def test_warmup_stats_drop_the_cold_call():
    s = warmup_stats([1.0, 0.010, 0.020, 0.030])
    assert s["calls"] == 3 and s["max_ms"] == 30.0 and 29 < s["p99_ms"] <= 30
    assert warmup_stats([0.5]) is None  # one call: nothing to judge by


def test_budget_names_the_options_that_fit():
    cfg = LoopConfig(rate_hz=10, overrun_periods=3)
    stats = {"calls": 4, "p50_ms": 800.0, "p99_ms": 838.0, "max_ms": 838.0}  # the case
    with pytest.raises(RuntimeLoopError) as err:
        check_budget(stats, cfg, chunk=4, asynchronous=False)
    msg = str(err.value)
    assert "p99 838.0 ms" in msg and "3 periods at 10 Hz = 300.0 ms" in msg
    assert "--rate 2.8 " in msg  # 3 / (0.838 s x 1.25) = 2.86 Hz, rounded down
    assert "--chunking async --rate 1.7" in msg  # 3 periods of a 4-chunk cover 2 x 0.838 s
    assert "--overrun-periods 11" in msg  # ceil(1.0475 s / 0.1 s)
    ok = check_budget(stats, LoopConfig(rate_hz=2.8), chunk=4, asynchronous=False)
    assert ok["fits"] and ok["budget_ms"] > 838
    assert check_budget(stats, cfg, chunk=4, asynchronous=True) is None  # async: not inline


def test_a_slow_policy_is_refused_before_anything_is_sent_and_the_suggestion_runs():
    policy = FakePolicy(make_spec(chunk=4), latency_s=0.05)  # 50 ms vs 3 x 10 ms
    act = RecordingActuator()
    with pytest.raises(RuntimeLoopError, match="too slow for this loop") as err:
        loop_run(policy, act, rate_hz=100, warmup=3, max_cycles=5)
    assert act.commands == []  # refused: nothing sent, not even a stop
    rate = float(re.search(r"--rate ([\d.]+) \(", str(err.value)).group(1))
    assert rate < 100 * 3 / 5
    s, act = loop_run(FakePolicy(make_spec(chunk=4), latency_s=0.05), rate_hz=rate, warmup=3,
                      max_cycles=6)  # fmt: skip
    assert s["warmup"]["fits"] and s["policy_actions_sent"] > 0 and s["faults"] == {}
    assert s["no_action_reason"] is None


def test_a_run_without_a_policy_action_says_why():
    policy = FakePolicy(nan_calls=set(range(2, 100)))  # fine at warm-up, NaN ever after
    s, act = loop_run(policy, rate_hz=100, warmup=1, max_cycles=5)
    assert "action" not in act.kinds and s["policy_actions_sent"] == 0
    assert s["no_action_reason"].startswith("no policy action was sent in 5 cycles")
    assert "non_finite_action x5" in s["no_action_reason"]


def test_a_state_is_never_made_up():
    spec = make_spec(state_dim=3)
    with pytest.raises(RuntimeLoopError, match="--state mean .* --state zeros"):
        loop_run(FakePolicy(spec), rate_hz=100, max_cycles=2)
    s, _ = loop_run(FakePolicy(spec), rate_hz=100, max_cycles=2, state="zeros")
    assert s["state_source"].startswith("zeros (--state zeros")
    s, _ = loop_run(FakePolicy(spec), rate_hz=100, max_cycles=2, state=[0.1, 0.2, 0.3])
    assert s["state_source"].startswith("fixed")
    with pytest.raises(RuntimeLoopError, match="spec records no state mean"):
        loop_run(FakePolicy(spec), rate_hz=100, max_cycles=2, state="mean")
    with pytest.raises(RuntimeLoopError, match="takes 3 finite values, got 2"):
        loop_run(FakePolicy(spec), rate_hz=100, max_cycles=2, state=[0.1, 0.2])
    act = RecordingActuator(state=np.zeros(3, np.float32))
    s, _ = loop_run(FakePolicy(spec), act, rate_hz=100, max_cycles=2)  # the robot's own
    assert s["state_source"] == "actuator"


# --- the CLI -----------------------------------------------------------------------------------


def invoke(*args):
    r = CliRunner().invoke(app, [str(a) for a in args])
    assert "Traceback" not in r.output
    return r


@pytest.fixture(scope="module")
def bundle(tiny_bundle):
    return tiny_bundle("bins")  # a state of 8 values, a text encoder


@pytest.fixture
def frame(tmp_path):
    path = tmp_path / "f.npy"
    np.save(path, np.zeros((64, 64, 3), np.uint8))
    return path


def test_cli_run_refuses_a_missing_state_and_an_empty_instruction(bundle):
    base = ["run", bundle, "--camera", "pattern", "--actuator", "null", "--cycles", 2]
    r = invoke(*base, "--instruction", "pick", "--rate", 5)
    assert r.exit_code == 1 and "takes a proprio state of 8 values" in r.output
    assert "--state mean" in r.output
    r = invoke(*base, "--instruction", "  ", "--state", "mean")
    assert r.exit_code == 1 and "reads an instruction and none was given" in r.output
    r = invoke(*base, "--instruction", "pick", "--state", "mean", "--rate", 5, "--json")
    assert r.exit_code == 0, r.output
    s = json.loads(r.output[r.output.index("{") :])
    assert s["state_source"].startswith("state_mean (--state mean")
    assert s["policy_actions_sent"] == 2 and s["warmup"]["calls"] == 4


def test_cli_run_that_sends_no_action_exits_non_zero(bundle):
    r = invoke("run", bundle, "--camera", "pattern:64x64@1", "--actuator", "null",
               "--instruction", "pick", "--state", "mean", "--stale-ms", 1, "--rate", 40,
               "--cycles", 4)  # fmt: skip
    assert r.exit_code == 3, r.output
    assert "no policy action was sent in 4 cycles" in r.output and "camera_stale" in r.output


def test_cli_run_refuses_a_policy_too_slow_for_the_rate(bundle):
    r = invoke("run", bundle, "--camera", "pattern", "--actuator", "null", "--instruction",
               "pick", "--state", "mean", "--rate", 10000, "--overrun-periods", 1,
               "--cycles", 3)  # fmt: skip
    assert r.exit_code == 1 and "too slow for this loop" in r.output, r.output
    assert "--rate " in r.output and "--overrun-periods " in r.output


def test_cli_predict_needs_the_state_and_an_instruction(bundle, frame):
    base = ["predict", bundle, "--image", f"front={frame}"]
    r = invoke(*base, "--instruction", "open the drawer")
    assert r.exit_code == 1 and "takes a proprio state of 8 values" in r.output
    r = invoke(*base, "--instruction", "", "--state", "mean")
    assert r.exit_code == 1 and "reads an instruction and none was given" in r.output
    for state in ("mean", "zeros", ",".join(["0.1"] * 8)):
        r = invoke(*base, "--instruction", "open the drawer", "--state", state, "--json")
        assert r.exit_code == 0, r.output
    r = invoke(*base, "--instruction", "x", "--state", "0.1,abc")
    assert r.exit_code == 1 and "--state must be 'mean', 'zeros' or comma-separated" in r.output
    r = invoke("predict", bundle, "--example", "--json")  # the deploy health check
    assert r.exit_code == 0, r.output


def test_cli_predict_refuses_a_camera_given_twice(bundle, frame, tmp_path):
    other = tmp_path / "g.npy"
    np.save(other, np.full((64, 64, 3), 255, np.uint8))
    r = invoke("predict", bundle, "--image", f"front={frame}", "--image", f"front={other}",
               "--instruction", "x", "--state", "mean")  # fmt: skip
    assert r.exit_code == 1 and "--image gives camera 'front' twice" in r.output
    r = invoke("predict", bundle, "--image", str(frame), "--image", f"front={other}",
               "--instruction", "x", "--state", "mean")  # fmt: skip
    assert r.exit_code == 1 and "twice" in r.output
