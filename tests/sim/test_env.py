"""The Meta-World environment, demonstrations and closed-loop evaluation on mt3-smoke."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from vla_edge.deps import available

pytestmark = [
    pytest.mark.sim,
    pytest.mark.skipif(not available("metaworld"), reason="needs the [sim] extra (metaworld)"),
]


class RandomPolicy:
    """Stand-in with Policy's predict signature: random chunks within the limits."""

    backend, source = "random", "test"

    def __init__(self, chunk: int = 4, size: int = 64) -> None:
        from vla_edge.sim.env import suite_spec

        self.spec = suite_spec("mt3-smoke", chunk, "continuous", size)
        self.rng = np.random.default_rng(0)
        self.last_latency_ms = 0.0
        self.calls = 0

    def predict(self, frames, instruction, state=None):
        assert frames["corner"].shape == (64, 64, 3) and frames["corner"].dtype == np.uint8
        assert state.shape == (21,) and isinstance(instruction, str)
        self.calls += 1
        return self.rng.uniform(-1, 1, (self.spec.action.chunk, 4)).astype(np.float32)


def test_env_api_and_expert_succeeds():
    from vla_edge.sim.env import make_env

    env = make_env("mt3-smoke", "drawer-close-v3", seed=100_000)
    try:
        env.reset()
        frames = env.frames()
        assert list(frames) == ["corner"] == [c[0] for c in env.spec_cameras]
        img = frames["corner"]
        assert img.shape == (64, 64, 3) and img.dtype == np.uint8 and img.std() > 5
        assert env.state().shape == (21,) and env.state().dtype == np.float32
        assert env.instruction == "close the drawer" and len(env.action_names) == 4
        success = done = False
        while not done:
            success, done = env.step(env.expert_action())
        assert success and env.steps < 200
        first = env.state().copy()
        env.reset(100_001)
        env.reset(100_000)
        assert not np.allclose(first, env.state())  # reset really resets
    finally:
        env.close()


def test_demos_cli_round_trip_and_resume(tmp_path):
    from vla_edge.cli.main import app
    from vla_edge.sim.data import DemoDataset

    out = tmp_path / "demos"
    args = ["sim", "demos", "--suite", "mt3-smoke", "--episodes", "1", "-o", str(out), "--json"]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    ds = DemoDataset(out)
    assert sorted(ds.tasks) == sorted(json.loads(res.output)["tasks"])
    assert len(ds.episodes) == 3
    shard = out / ds.episodes[0].file
    stamp = shard.stat().st_mtime_ns
    res = CliRunner().invoke(app, args)  # resumes: nothing re-recorded
    assert res.exit_code == 0 and shard.stat().st_mtime_ns == stamp
    assert all(s["attempts"] == 0 for s in json.loads(res.output)["tasks"].values())


def test_evaluate_random_policy_end_to_end(tmp_path):
    from vla_edge.sim.evaluate import EvalConfig, evaluate

    policy = RandomPolicy(chunk=4)
    strip = tmp_path / "strip.png"
    cfg = EvalConfig("mt3-smoke", episodes=1, tasks=["button-press-topdown-v3"], save_video=strip)
    report = evaluate(policy, cfg, progress=False)
    task = report["tasks"]["button-press-topdown-v3"]
    assert task["episodes"] == 1 and report["episodes"] == 1
    assert report["env_steps"] == task["lengths"][0]
    assert policy.calls == -(-report["env_steps"] // 4)  # one prediction per chunk
    assert strip.is_file() and report["latency_ms"]["predictions"] == policy.calls


def test_evaluate_rejects_wrong_camera():
    from vla_edge.errors import SimError
    from vla_edge.policy.spec import CameraSpec
    from vla_edge.sim.evaluate import EvalConfig, evaluate

    policy = RandomPolicy()
    policy.spec.cameras = [CameraSpec("wrist", 64, 64)]
    with pytest.raises(SimError, match="corner"):
        evaluate(policy, EvalConfig("mt3-smoke", episodes=1), progress=False)
