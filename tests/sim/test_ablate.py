"""Ablations in evaluation: each variant changes exactly what it says, on the same seeds."""

from __future__ import annotations

import json

import numpy as np
import pytest

from vla_edge.errors import SimError
from vla_edge.sim.ablate import GROUPS, variants
from vla_edge.sim.evaluate import EvalConfig, evaluate
from vla_edge.sim.suites import get_suite


class SeededEnv:
    """SimEnv's API without MuJoCo: the frames show the placement (seed), the state only the
    hand (the summed actions); it succeeds when the policy moved +x on the seed's side."""

    def __init__(self, suite, task, seed, size):
        self.suite, self.task = get_suite(suite), get_suite(suite).task(task)
        self.instruction, self.image_size = self.task.instruction, size
        self.cameras = list(self.suite.cameras)
        self.seed = seed

    def reset(self, seed=None):
        self.seed = self.seed if seed is None else seed
        self.steps, self.hand, self.success = 0, np.zeros(4, np.float32), False

    def frames(self):
        level = (self.seed * 37 + self.steps) % 200 + 20
        return {c: np.full((self.image_size,) * 2 + (3,), level, np.uint8) for c in self.cameras}

    def state(self):
        return self.hand.copy()

    def step(self, action):
        self.steps += 1
        self.hand = self.hand + np.asarray(action, np.float32)
        self.success = self.success or bool(self.seed % 2 and self.hand[0] > 1)
        return self.success, self.success or self.steps >= 6

    def close(self):
        pass


class RecordingPolicy:
    backend, source, last_latency_ms = "fake", "test", 0.0

    def __init__(self, suite="mt3-vision-smoke", size=16):
        from dataclasses import replace

        from vla_edge.sim.env import suite_spec

        self.spec = suite_spec(suite, 2, "continuous", size)
        self.spec.normalization = replace(
            self.spec.normalization, state_mean=[0.5] * 4, state_std=[1.0] * 4
        )
        self.seen = []

    def predict(self, frames, instruction, state):
        self.seen.append(({c: f.copy() for c, f in frames.items()}, instruction, state.copy()))
        level = next(iter(frames.values())).mean()
        return np.full((2, 4), 1.0 if level > 0 else -1.0, np.float32)


@pytest.fixture
def fake_sim(monkeypatch):
    import vla_edge.sim.env as env_mod

    monkeypatch.setattr(env_mod, "make_env", SeededEnv)


def _run(ablate, episodes=2):
    policy = RecordingPolicy()
    cfg = EvalConfig("mt3-vision-smoke", episodes=episodes, tasks=["drawer-open"], ablate=ablate)
    return policy, evaluate(policy, cfg, progress=False)


def test_groups_expand_and_unknown_names_are_refused():
    assert variants(["vision"]) == list(GROUPS["vision"])
    assert variants(["state", "state-mean", "language"])[0] == "state-mean"
    with pytest.raises(SimError, match="unknown ablation 'camera'"):
        EvalConfig("mt10", ablate=["camera"])


def test_each_variant_changes_only_its_input(fake_sim):
    plain_policy, plain = _run([])
    policy, report = _run(["vision", "language", "state"])
    n = len(plain_policy.seen)  # the plain run comes first, same seeds
    for (f0, t0, s0), (f1, t1, s1) in zip(plain_policy.seen, policy.seen[:n], strict=True):
        assert t0 == t1 and np.array_equal(s0, s1) and f0.keys() == f1.keys()
    assert set(report["ablations"]) == {v for vs in GROUPS.values() for v in vs}
    assert all(a["episodes"] == plain["episodes"] == 2 for a in report["ablations"].values())
    rest = policy.seen[n:]
    frames = [f for f, _, _ in rest]
    texts = [t for _, t, _ in rest]
    states = [s for _, _, s in rest]
    assert any(all(v.max() == 0 for v in f.values()) for f in frames)  # vision-black
    assert "" in texts  # language-empty
    other = get_suite("mt3-vision-smoke").tasks[1].instruction
    assert other in texts and other != get_suite("mt3-vision-smoke").tasks[0].instruction
    assert any(np.array_equal(s, np.full(4, 0.5, np.float32)) for s in states)  # state-mean


def test_black_frames_and_other_episode_frames_change_success(fake_sim):
    _, report = _run(["vision"])
    # the fake succeeds only on odd seeds and only when the policy sees a lit frame
    assert report["successes"] == 1
    assert report["ablations"]["vision-black"]["successes"] == 0
    other = report["ablations"]["vision-other-episode"]
    assert other["episodes"] == 2 and other["tasks"]["drawer-open-v3"]["episodes"] == 2


def test_other_episode_frames_come_from_another_placement(fake_sim):
    from vla_edge.sim.ablate import OtherEpisode

    policy = RecordingPolicy()
    env = SeededEnv("mt3-vision-smoke", "drawer-open-v3", 100_000, 16)
    env.reset(100_000)
    view = OtherEpisode(policy, get_suite("mt3-vision-smoke"))
    view.start(env, 0, 100_001)
    assert view.frames(env)["corner"][0, 0, 0] != env.frames()["corner"][0, 0, 0]
    view.step(np.ones(4))
    env.step(np.ones(4))
    assert view.shadow.steps == env.steps == 1  # driven by the same actions
    view.close()


def test_state_mean_needs_the_spec_mean(fake_sim):
    from dataclasses import replace

    policy = RecordingPolicy()
    policy.spec.normalization = replace(policy.spec.normalization, state_mean=None, state_std=None)
    cfg = EvalConfig("mt3-vision-smoke", episodes=1, tasks=["drawer-open"], ablate=["state"])
    with pytest.raises(SimError, match="state mean"):
        evaluate(policy, cfg, progress=False)


def test_ablations_are_recorded_in_the_bundle_and_shown_by_info(tmp_path, fake_sim):
    from typer.testing import CliRunner

    from vla_edge.bundle import write_manifest
    from vla_edge.cli.main import app
    from vla_edge.sim.evaluate import record_in_bundle

    manifest = {"format_version": 1, "spec": RecordingPolicy().spec.to_dict(), "graphs": []}
    manifest |= {"files": {}, "content_hash": "0" * 64, "validation": {}, "name": "fake"}
    write_manifest(tmp_path, manifest)  # hashed, as vla-edge writes it
    _, report = _run(["vision"])
    record_in_bundle(tmp_path, report)
    saved = json.loads((tmp_path / "manifest.json").read_text())["validation"]["eval"]
    entry = saved["mt3-vision-smoke"]
    assert entry["successes"] == 1 and entry["ablations"]["vision-black"]["successes"] == 0
    res = CliRunner().invoke(app, ["info", str(tmp_path), "--no-verify"])
    assert res.exit_code == 0, res.output
    assert "ablation vision-black: 0% (0/2" in res.output and "-50 points" in res.output
