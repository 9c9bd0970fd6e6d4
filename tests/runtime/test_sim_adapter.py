"""The simulator camera and robot, on a fake environment with the sim API (the real one is
tested in test_cli_run.py when the [sim] extra and vla_edge.sim are present)."""

import numpy as np
import pytest

from tests.fakes.policies import FakePolicy, make_spec
from tests.fakes.sim_env import FakeEnv
from vla_edge.errors import RuntimeLoopError
from vla_edge.runtime import ControlLoop, LoopConfig
from vla_edge.runtime.setup import build_actuator, build_cameras
from vla_edge.runtime.sim import SimSession


def make(policy, env, **cfg):
    session = SimSession(env)
    cams = build_cameras(policy.spec, [], session)
    act = build_actuator(policy.spec, None, 0.01, session)
    cfg = {"rate_hz": 200.0, "warmup": 1, "max_cycles": 500, **cfg}
    return ControlLoop(policy, cams, act, LoopConfig(**cfg)), session


def test_closed_loop_on_the_simulator_until_success():
    env = FakeEnv(goal=1.0)
    policy = FakePolicy(make_spec(state_dim=2), value=0.05)  # 4 dims x 0.05 = 0.2 per step
    loop, session = make(policy, env, instruction=session_text(env), execute=1)
    s = loop.run()
    assert s["sim"] == {"steps": 5, "success": True, "done": False}
    assert s["stop_reason"] == "episode succeeded after 5 steps"
    assert env.resets == 1 and env.closed and len(env.actions) == 5  # the stop is not a step
    assert policy.inputs[-1][2].tolist() == [pytest.approx(0.8), 4.0]  # state from the sim
    assert env.renders <= 5 + 2 + 1  # one render per step (plus warm-up), not one per read


def session_text(env):
    return SimSession(env).instruction


def test_episode_end_without_success_stops_the_run():
    env = FakeEnv(goal=1e9, horizon=7)
    loop, _ = make(FakePolicy(make_spec(state_dim=2), value=0.0), env)
    s = loop.run()
    assert s["sim"]["done"] and not s["sim"]["success"] and s["cycles"] == 7


def test_unknown_sim_camera_is_refused():
    env = FakeEnv(cameras=("top",))
    with pytest.raises(RuntimeLoopError, match="has cameras"):
        make(FakePolicy(make_spec(state_dim=2)), env)[0].run()


def test_sim_frames_follow_the_robot():
    env = FakeEnv()
    session = SimSession(env)
    first = session.frames()["front"][0, 0, 0]
    session.step(np.zeros(4, np.float32))
    assert session.frames()["front"][0, 0, 0] > first


def test_bad_sim_target():
    with pytest.raises(RuntimeLoopError, match="SUITE:TASK"):
        SimSession.open("metaworld")


def test_sim_robot_declares_its_action_space_and_refuses_a_mismatch():
    env = FakeEnv()
    env.action_names = ["dx", "dy", "dz", "gripper"]
    env.action_units = ["m"] * 4
    with pytest.raises(RuntimeLoopError, match="same order"):
        make(FakePolicy(make_spec(state_dim=2)), env)  # the fake policy's names are x, y, z, grip
