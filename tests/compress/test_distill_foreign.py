"""Distillation from a foreign teacher (vla_edge.compress.distill.foreign): anything that maps
observations to action chunks in units teaches a reference student; here a bundle run by the
runtime (the path a LeRobot bundle takes; tests/lerobot/test_foreign_teacher.py runs ACT) and
a plain Python teacher, on a LeRobotDataset v3 fixture."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("pyarrow")
pytest.importorskip("av")

from typer.testing import CliRunner  # noqa: E402

from tests.data import lerobot_v3  # noqa: E402
from vla_edge.bundle import Bundle  # noqa: E402
from vla_edge.compress.distill import DistillConfig, TrainConfig, foreign  # noqa: E402
from vla_edge.errors import InputError  # noqa: E402


@pytest.fixture(scope="module")
def spec(tiny_bundle):
    return Bundle.load(tiny_bundle("continuous")).spec


@pytest.fixture(scope="module")
def dataset(tmp_path_factory, spec):
    cam = spec.cameras[0]
    root = tmp_path_factory.mktemp("lerobot") / "ds"
    cams = {"observation.images.front": (cam.height, cam.width)}
    return lerobot_v3.write(root, cams, state_dim=spec.state_dim, episodes=4, length=16)


class StateTeacher:
    """A teacher of no family at all: the action chunk is a fixed function of the state."""

    cameras = None

    def __init__(self, spec):
        self.spec = spec
        a = spec.action
        self.mid = (np.asarray(a.low) + np.asarray(a.high)) / 2
        self.half = (np.asarray(a.high) - np.asarray(a.low)) / 4

    def actions(self, frames, instructions, states):
        s = np.tanh(states[:, :1] / 100.0 - 1.0)  # [B, 1]
        steps = np.linspace(0.5, 1.0, self.spec.action.chunk)[None, :, None]
        return (self.mid + self.half * s[:, None, :] * steps).astype(np.float32)

    def describe(self):
        return {"kind": "python", "family": "test"}


def _config(steps=80):
    return DistillConfig(
        student_preset="tiny",
        holdout=12,
        train=TrainConfig(steps=steps, batch_size=16, lr=2e-3, warmup=5, progress=False),
    )


def test_a_python_teacher_is_learned(spec, dataset, tmp_path):
    teacher = StateTeacher(spec)
    assert isinstance(teacher, foreign.Teacher)
    res = foreign.distill_foreign(teacher, f"lerobot:{dataset}", tmp_path / "s", _config())
    s = res.summary
    assert s["final_loss"] < 0.5 * s["first_loss"]
    assert s["held_out_after"]["action_mae_mean"] < 0.5 * s["held_out_before"]["action_mae_mean"]
    lineage = json.loads((tmp_path / "s/config.json").read_text())["compression"][0]
    assert lineage["teacher"] == {"kind": "python", "family": "test"}
    assert lineage["data"] == f"lerobot:{dataset}" and lineage["frames"] == 64


def test_npz_demonstrations_are_labelled_by_the_teacher(spec, tmp_path):
    from vla_edge.compress.distill import ArrayDemos

    cam = spec.cameras[0]
    rng = np.random.default_rng(0)
    n = 24
    demos = ArrayDemos(
        {cam.name: rng.integers(0, 256, (n, cam.height, cam.width, 3), np.uint8)},
        ["open the drawer"] * n,
        (100 * rng.random((n, spec.state_dim))).astype(np.float32),
        np.zeros((n, spec.action.chunk, spec.action.dim), np.float32),  # dropped: not targets
    )
    path = demos.save(tmp_path / "d.npz")
    teacher = StateTeacher(spec)
    data, source = foreign.observations(path, teacher)
    assert data.actions is None and source == str(path) and len(data) == n
    labels = foreign.label(teacher, data, batch=5)
    np.testing.assert_allclose(labels, teacher.actions(data.frames, data.instructions, data.states))


def test_a_bundle_teacher_through_the_cli(tiny_bundle, tiny_checkpoint, dataset, tmp_path):
    from vla_edge.cli.main import app
    from vla_edge.export import ExportConfig, export_checkpoint

    # a bundle with its reference source goes the reference way; without it, it is foreign
    teacher = tmp_path / "t"
    export_checkpoint(tiny_checkpoint("continuous"), teacher, ExportConfig(include_source=False))
    assert foreign.is_foreign(teacher) and not foreign.is_foreign(tiny_bundle("continuous"))
    args = ["distill", str(teacher), "--data", f"lerobot:{dataset}", "-o", str(tmp_path / "s")]
    args += ["--steps", "60", "--batch-size", "16", "--lr", "2e-3", "--json"]
    args += ["--export", str(tmp_path / "b")]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["teacher"]["kind"] == "bundle" and out["teacher"]["family"] == "vla-edge"
    assert out["final_loss"] < out["first_loss"]
    before, after = out["held_out_before"], out["held_out_after"]
    assert after["action_mae_mean"] < before["action_mae_mean"]
    assert Bundle.load(out["bundle"]).spec.action.chunk == Bundle.load(teacher).spec.action.chunk


def test_foreign_teacher_options_are_refused(spec, tmp_path):
    from vla_edge.cli.distill import _refuse_for_foreign

    with pytest.raises(InputError, match="--rollouts: not available with a foreign teacher"):
        _refuse_for_foreign(False, 3, 0.0, 0.0)
    with pytest.raises(InputError, match="--student-head must be"):
        DistillConfig(student_head="mlp")


def test_a_reference_teacher_reads_a_lerobot_dataset(tiny_bundle, dataset, tmp_path):
    from vla_edge.compress.distill import distill, open_demos

    spec = Bundle.load(tiny_bundle("continuous")).spec
    demos = open_demos(f"lerobot:{dataset}", spec)
    assert len(demos) == 64 and demos.actions.shape == (64, spec.action.chunk, spec.action.dim)
    np.testing.assert_array_equal(demos.actions[15, -1], demos.actions[15, 0])  # episode end
    cfg = _config(steps=3)
    res = distill(tiny_bundle("continuous"), f"lerobot:{dataset}", tmp_path / "s", cfg)
    assert res["steps"] == 3 and res["train_frames"] == 64 - 12
