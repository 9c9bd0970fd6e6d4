"""Calibration from a LeRobotDataset v3 folder (`--calib lerobot:PATH`), read without lerobot:
the reader on a fixture written with pyarrow + PyAV (tests/data/lerobot_v3.py), quantize
recording the frames it used, and clear errors for a folder that does not fit."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("pyarrow")
pytest.importorskip("av")

from typer.testing import CliRunner  # noqa: E402

from tests.data import lerobot_v3  # noqa: E402
from vla_edge.bundle import Bundle  # noqa: E402
from vla_edge.compress.quantize import Budget, QuantizeConfig, load_calibration, quantize  # noqa: E402
from vla_edge.data.lerobot_dataset import LeRobotDataset, camera_name  # noqa: E402
from vla_edge.errors import CalibrationError  # noqa: E402

FRONT = "observation.images.front"


@pytest.fixture(scope="module")
def spec(tiny_bundle):
    return Bundle.load(tiny_bundle("bins")).spec


@pytest.fixture(scope="module")
def dataset(tmp_path_factory, spec):
    cam = spec.cameras[0]
    root = tmp_path_factory.mktemp("lerobot") / "ds"
    return lerobot_v3.write(root, {FRONT: (cam.height, cam.width)}, state_dim=spec.state_dim)


def test_reader_decodes_the_frames_rows_and_tasks(tmp_path):
    cams = {FRONT: (32, 48), "observation.images.wrist.left": (24, 32)}
    root = lerobot_v3.write(tmp_path / "ds", cams, episodes=3, length=8)
    ds = LeRobotDataset(root)
    assert ds.camera_keys == list(cams) and len(ds) == 24
    index = ds.spread(7)
    assert len(index) == 7 and index[0] == 0 and index[-1] == 23
    rows = ds.frames(index, ds.camera_keys)
    ep, t = rows.episode, rows.state[:, 0] - rows.episode * 100
    for k, key in enumerate(cams):
        got = rows.images[key].reshape(len(index), -1).mean(1)
        want = [lerobot_v3.pixel(k, int(e), int(s)) for e, s in zip(ep, t, strict=True)]
        np.testing.assert_allclose(got, want, atol=4)  # lossy video, flat colours
        assert rows.images[key].shape[1:] == (*cams[key], 3)
    assert rows.tasks == [("open the drawer", "close the drawer")[int(e) % 2] for e in ep]
    assert camera_name("observation.images.wrist.left") == "wrist_left"


def test_image_features_in_the_parquet_are_read(tmp_path):
    root = lerobot_v3.write(tmp_path / "ds", {FRONT: (16, 24)}, images="image")
    ds = LeRobotDataset(root)
    rows = ds.frames(ds.spread(5), [FRONT])
    t = rows.state[:, 0] - rows.episode * 100
    want = [lerobot_v3.pixel(0, int(e), int(s)) for e, s in zip(rows.episode, t, strict=True)]
    assert rows.images[FRONT].shape == (5, 16, 24, 3)
    np.testing.assert_array_equal(rows.images[FRONT][:, 0, 0, 0], want)  # PNG: lossless


def test_load_calibration_maps_the_dataset_onto_the_policy(dataset, spec):
    for source in (f"lerobot:{dataset}", dataset):  # prefix or detected by meta/info.json
        data = load_calibration(source, spec, limit=10)
        assert len(data) == 10 and data.frames["front"].dtype == np.uint8
        assert data.source == f"lerobot:{dataset}"
        assert data.states.shape == (10, spec.state_dim)
        assert data.ids.tolist() == LeRobotDataset(dataset).spread(10).tolist()
        np.testing.assert_array_equal(data.states[:, 0] % 100, data.ids % 8)


def test_quantize_records_the_frames_it_used(dataset, tiny_bundle, tmp_path):
    loose = Budget(spread=1e3)  # a random tiny model: the gate is tested in test_quant_budget
    cfg = QuantizeConfig(
        precision="int8", calib=f"lerobot:{dataset}", calib_size=12, holdout=6, budget=loose
    )
    b = quantize(tiny_bundle("bins"), tmp_path / "q", cfg)
    held = b.manifest["validation"]["quantization"]["heldout"]
    assert held["source"] == f"lerobot:{dataset}" and not held["random_frames"]
    assert held["dataset"] == {
        "format": "LeRobotDataset v3.0",
        "episodes": 3,
        "frames": 24,
        "fps": 10.0,
        "cameras": {"front": FRONT},
    }
    used = held["frames"]
    assert len(used["calibration"]) == 12 and len(used["heldout"]) == 6
    assert not set(used["calibration"]) & set(used["heldout"])
    settings = b.manifest["lineage"]["settings"]
    assert settings["calib"] == f"lerobot:{dataset}" and settings["calib_frames"] == used


def _cli(*args):
    from vla_edge.cli.main import app

    return CliRunner().invoke(app, [str(a) for a in args])


def test_bad_datasets_get_clear_errors(dataset, spec, tmp_path, tiny_bundle):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(CalibrationError, match=r"not a LeRobotDataset v3 folder: expected meta"):
        load_calibration(f"lerobot:{empty}", spec, 8)
    other = lerobot_v3.write(tmp_path / "wrist", {"observation.images.wrist": (64, 64)})
    with pytest.raises(CalibrationError, match=r"camera 'front' reads feature 'observation\."):
        load_calibration(f"lerobot:{other}", spec, 8, cameras={"front": FRONT})
    cam = spec.cameras[0]
    small = lerobot_v3.write(tmp_path / "small", {FRONT: (cam.height // 2, cam.width // 2)})
    with pytest.raises(CalibrationError, match=r"is 32x32 in the dataset but the policy takes"):
        load_calibration(f"lerobot:{small}", spec, 8)
    state = lerobot_v3.write(tmp_path / "s3", {FRONT: (cam.height, cam.width)}, state_dim=3)
    with pytest.raises(
        CalibrationError, match=rf"shape \[3\] but the policy takes a state of {spec.state_dim}"
    ):
        load_calibration(f"lerobot:{state}", spec, 8)
    old = tmp_path / "v21"
    old.mkdir()
    (old / "meta").mkdir()
    (old / "meta/info.json").write_text(json.dumps({"codebase_version": "v2.1", "features": {}}))
    with pytest.raises(CalibrationError, match=r"LeRobotDataset v2.1; vla-edge reads v3"):
        load_calibration(old, spec, 8)
    res = _cli("quantize", tiny_bundle("bins"), "-o", tmp_path / "q", "--calib", f"lerobot:{empty}")
    assert res.exit_code != 0 and "Traceback" not in res.output
    assert "not a LeRobotDataset v3 folder" in res.output and not (tmp_path / "q").exists()


def test_validate_reads_a_lerobot_dataset(dataset, tiny_bundle):
    res = _cli("validate", tiny_bundle("bins"), "--data", f"lerobot:{dataset}", "--samples", 6)
    assert res.exit_code == 0, res.output
    assert f"lerobot:{dataset}" in res.output.replace("\n", "")
