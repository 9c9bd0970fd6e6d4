"""A LeRobot ACT policy teaches a reference-family student (the foreign-teacher interface):
the teacher runs through its exported bundle on the runtime (no lerobot import), its action
chunks on a LeRobotDataset v3's frames are the targets; the student trains, exports, and its
actions move toward the teacher's. Also `lerobot:PATH` as the teacher (exported first)."""

import json

import numpy as np
import pytest

pytest.importorskip("lerobot.policies", reason="lerobot needs Python >= 3.12 (.venv-lerobot)")
pytestmark = pytest.mark.lerobot

from typer.testing import CliRunner  # noqa: E402

from tests.lerobot.common import export_json  # noqa: E402
from tests.lerobot.datasets import write_dataset  # noqa: E402
from vla_edge.bundle import Bundle  # noqa: E402
from vla_edge.data.lerobot_dataset import LeRobotDataset  # noqa: E402
from vla_edge.policy.policy import Policy  # noqa: E402

STUDENT = ["--student-preset", "tiny", "--set", "patch_size=8", "--batch-size", "16"]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("lrds") / "ds"
    return write_dataset(root, episodes=4, length=20, smooth=True)


@pytest.fixture(scope="module")
def act(lerobot_ckpts, tmp_path_factory):
    out = tmp_path_factory.mktemp("act") / "b"
    export_json(f"lerobot:{lerobot_ckpts('act')}", out)
    return out


def _distill(teacher, dataset, out, *extra):
    from vla_edge.cli.main import app

    args = ["distill", str(teacher), "--data", f"lerobot:{dataset}", "-o", str(out), "--json"]
    res = CliRunner().invoke(app, [*args, *STUDENT, *map(str, extra)])
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def test_act_bundle_teaches_a_reference_student(act, dataset, tmp_path):
    out = _distill(act, dataset, tmp_path / "s", "--steps", 200, "--lr", "3e-3",
                   "--export", tmp_path / "b")  # fmt: skip
    assert out["teacher"]["family"] == "lerobot-act" and out["teacher"]["kind"] == "bundle"
    assert out["final_loss"] < 0.7 * out["first_loss"]
    before, after = out["held_out_before"], out["held_out_after"]
    assert after["action_mae_mean"] < before["action_mae_mean"]
    # the exported student, on the runtime, against the teacher bundle on dataset frames
    student = Bundle.load(out["bundle"])
    assert student.spec.action.chunk == 10 and student.spec.action.n_action_steps == 5
    ds = LeRobotDataset(dataset)
    keys = {"top": "observation.images.top", "wrist_left": "observation.images.wrist.left"}
    rows = ds.frames(ds.spread(16), list(keys.values()))
    frames = {name: rows.images[key] for name, key in keys.items()}
    with Policy.load(act) as t, Policy.load(student.path) as s:
        want = t.predict_batch(frames, rows.tasks, rows.state)
        got = s.predict_batch(frames, rows.tasks, rows.state)
    mean = want.reshape(-1, want.shape[-1]).mean(0)
    assert np.abs(got - want).mean() < np.abs(mean - want).mean()  # beats the teacher's mean
    config = json.loads((tmp_path / "s/config.json").read_text())
    lineage = config["compression"][0]
    assert lineage["teacher"]["family"] == "lerobot-act" and lineage["frames"] == 80
    assert lineage["data"] == f"lerobot:{dataset}"


def test_lerobot_checkpoint_as_the_teacher(lerobot_ckpts, dataset, tmp_path):
    ckpt = lerobot_ckpts("act")
    out = _distill(f"lerobot:{ckpt}", dataset, tmp_path / "s", "--steps", 5)
    assert out["teacher"]["exported_from"] == f"lerobot:{ckpt}"
    assert out["teacher"]["family"] == "lerobot-act" and out["steps"] == 5
