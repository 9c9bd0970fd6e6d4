"""`--calib lerobot:PATH` on a real LeRobotDataset v3 written with LeRobot's own API: vla-edge's
reader (pyarrow + PyAV, no lerobot) returns what LeRobot's own reader returns, and an INT8
quantization of a tiny ACT bundle calibrates on the dataset and records the frames it used."""

import json

import numpy as np
import pytest

pytest.importorskip("lerobot.datasets", reason="lerobot needs Python >= 3.12 (.venv-lerobot)")
pytestmark = pytest.mark.lerobot

from typer.testing import CliRunner  # noqa: E402

from tests.lerobot import tiny  # noqa: E402
from tests.lerobot.common import export_json, manifest  # noqa: E402
from tests.lerobot.datasets import write_dataset  # noqa: E402
from vla_edge.data.lerobot_dataset import LeRobotDataset  # noqa: E402

EPISODES, LENGTH = 3, 10


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return write_dataset(tmp_path_factory.mktemp("lrds") / "ds")


@pytest.fixture(scope="module")
def act(lerobot_ckpts, tmp_path_factory):
    out = tmp_path_factory.mktemp("act") / "b"
    export_json(f"lerobot:{lerobot_ckpts('act')}", out)
    return out


def test_reader_matches_lerobots_own(dataset):
    from lerobot.datasets.lerobot_dataset import LeRobotDataset as LR

    theirs = LR("local/tiny", root=dataset, video_backend="pyav")
    ours = LeRobotDataset(dataset)
    assert ours.describe() == {
        "format": "LeRobotDataset v3.0",
        "episodes": EPISODES,
        "frames": EPISODES * LENGTH,
        "fps": 10.0,
    }
    index = ours.spread(7)
    rows = ours.frames(index, list(tiny.CAMERAS))
    for j, i in enumerate(index):
        item = theirs[int(i)]
        for key in tiny.CAMERAS:
            want = (item[key].permute(1, 2, 0).numpy() * 255).round()
            assert np.abs(rows.images[key][j].astype(np.float32) - want).max() <= 1.0
        np.testing.assert_array_equal(rows.state[j], item["observation.state"].numpy())
        np.testing.assert_array_equal(rows.action[j], item["action"].numpy())
        assert rows.tasks[j] == item["task"] and rows.episode[j] == int(item["episode_index"])


def _cli(*args):
    from vla_edge.cli.main import app

    return CliRunner().invoke(app, [str(a) for a in args])


def test_quantize_calibrates_on_the_dataset(act, dataset, tmp_path):
    out = tmp_path / "q"
    # a random tiny ACT on random frames misses the default budget (p99 2.3x the parent's
    # spread, measured): this test is about the data, the budget gate has its own tests
    res = _cli(
        "quantize", act, "-o", out, "--precision", "int8", "--calib", f"lerobot:{dataset}",
        "--calib-size", 16, "--holdout", 8, "--budget", "spread=100", "--json",
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    report = json.loads(res.stdout)
    held = report["validation"]["quantization"]["heldout"]
    assert held["source"] == f"lerobot:{dataset}" and not held["random_frames"]
    assert held["dataset"]["cameras"] == {
        "top": "observation.images.top",
        "wrist_left": "observation.images.wrist.left",
    }
    used = held["frames"]
    assert len(used["calibration"]) == 16 and len(used["heldout"]) == 8
    assert not set(used["calibration"]) & set(used["heldout"])
    assert set(used["calibration"]) | set(used["heldout"]) <= set(range(EPISODES * LENGTH))
    assert manifest(out)["lineage"]["settings"]["calib_frames"] == used
    errors = report["validation"]["quantization"]["action_error"]
    assert len(errors) == tiny.ACTION_DIM and all(v["p99"] > 0 for v in errors.values())


def test_a_dataset_that_does_not_fit_is_refused(act, tmp_path):
    other = write_dataset(tmp_path / "ds", cameras=("observation.images.top",), state_dim=3)
    res = _cli("quantize", act, "-o", tmp_path / "q", "--calib", f"lerobot:{other}")
    assert res.exit_code != 0 and "Traceback" not in res.output
    assert "wrist_left" in res.output and "observation.images.wrist.left" in res.output
    assert not (tmp_path / "q").exists()
