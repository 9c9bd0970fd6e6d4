"""Calibration data: the readers, and clear CalibrationErrors for bad data."""

from __future__ import annotations

import numpy as np
import pytest

from vla_edge.bundle import Bundle
from vla_edge.compress.quantize import Budget, QuantizeConfig, load_calibration, quantize
from vla_edge.compress.quantize.calibration import CalibrationSet
from vla_edge.errors import CalibrationError

PIL = pytest.importorskip("PIL.Image")


@pytest.fixture(scope="module")
def spec(tiny_bundle):
    return Bundle.load(tiny_bundle("bins")).spec


def _write_images(folder, n, size=64, seed=0):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(n):
        img = rng.integers(0, 256, (size, size, 3), np.uint8)
        PIL.fromarray(img).save(folder / f"{i:04d}.png")


def _calib_dir(root, n=24, size=64, camera="front", lines=None):
    _write_images(root / camera, n, size)
    (root / "instructions.txt").write_text("\n".join(lines or ["open the drawer"]) + "\n")
    return root


def test_directory_per_camera_folders(tmp_path, spec):
    d = _calib_dir(tmp_path / "c", n=10, lines=[f"task {i}" for i in range(10)])
    np.save(d / "states.npy", np.ones((10, spec.state_dim), np.float32))
    data = load_calibration(d, spec, limit=100)
    assert len(data) == 10 and data.frames["front"].shape == (10, 64, 64, 3)
    assert data.instructions[3] == "task 3"
    assert data.states.shape == (10, spec.state_dim) and data.states.max() == 1


def test_directory_flat_images_for_one_camera(tmp_path, spec):
    _write_images(tmp_path / "flat", 6)
    (tmp_path / "flat" / "instructions.txt").write_text("push the button\n")
    data = load_calibration(tmp_path / "flat", spec, limit=4)
    assert len(data) == 4 and data.instructions == ["push the button"] * 4
    assert data.states.shape == (4, spec.state_dim)  # mean state stands in


def test_npz(tmp_path, spec):
    f = tmp_path / "c.npz"
    frames = np.zeros((5, 64, 64, 3), np.uint8)
    np.savez(f, image_front=frames, instructions=np.array(["a", "b", "c", "d", "e"]))
    data = load_calibration(f, spec, limit=3)
    assert len(data) == 3 and data.instructions == ["a", "b", "c"]


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda p: p.mkdir(), "contains no images"),
        (lambda p: _calib_dir(p, size=32), r"shape \[32, 32, 3\].*resize"),
        (lambda p: _calib_dir(p, camera="wrist"), r"cameras \['wrist'\].*takes \['front'\]"),
        (lambda p: _write_images(p / "front", 3), "no instructions.txt"),
        (lambda p: _calib_dir(p, n=4, lines=["a", "b"]), "2 instructions for 4 frames"),
    ],
    ids=["empty", "wrong-shape", "wrong-camera", "no-instructions", "too-few-instructions"],
)
def test_bad_directories(tmp_path, spec, make, match):
    make(tmp_path / "bad")
    with pytest.raises(CalibrationError, match=match):
        load_calibration(tmp_path / "bad", spec, limit=100)


def test_bad_arrays(tmp_path, spec):
    f = tmp_path / "empty.npz"
    np.savez(f, image_front=np.zeros((0, 64, 64, 3), np.uint8), instructions=np.array([], str))
    with pytest.raises(CalibrationError, match="empty"):
        load_calibration(f, spec, limit=10)
    f = tmp_path / "float.npz"
    np.savez(f, image_front=np.zeros((2, 64, 64, 3), np.float32), instructions=np.array(["a"]))
    with pytest.raises(CalibrationError, match="uint8"):
        load_calibration(f, spec, limit=10)
    bad_state = CalibrationSet(
        {"front": np.zeros((2, 64, 64, 3), np.uint8)}, ["a", "b"], np.zeros((2, 3)), "mem"
    )
    with pytest.raises(CalibrationError, match=r"states .* shape \[2, 3\]"):
        bad_state.check(spec)
    with pytest.raises(CalibrationError, match="does not exist"):
        load_calibration(tmp_path / "nope", spec, limit=10)


def test_split_needs_two_samples_and_does_not_overlap(spec):
    one = CalibrationSet.random(spec, 1, seed=0)
    with pytest.raises(CalibrationError, match="at least 2"):
        one.split(holdout=4, calib_size=4, seed=0)
    data = CalibrationSet.random(spec, 20, seed=0)
    calib, held = data.split(holdout=5, calib_size=15, seed=0)
    assert len(calib) == 15 and len(held) == 5
    a = {x.tobytes() for x in calib.frames["front"]}
    assert not a & {x.tobytes() for x in held.frames["front"]}


def test_quantize_with_real_frames_records_the_source(tiny_bundle, tmp_path):
    d = _calib_dir(tmp_path / "c", n=16, lines=["open the drawer", "push the button"] * 8)
    loose = Budget(spread=1e3)  # a random tiny model: the gate is tested in test_quant_budget
    cfg = QuantizeConfig(precision="int8", calib=d, calib_size=12, holdout=4, budget=loose)
    b = quantize(tiny_bundle("bins"), tmp_path / "q", cfg)
    held = b.manifest["validation"]["quantization"]["heldout"]
    assert held["source"] == str(d) and not held["random_frames"]
    assert held["calibration_samples"] == 12 and held["heldout_samples"] == 4
    assert b.manifest["lineage"]["settings"]["calib"] == str(d)


def test_quantize_bad_calibration_writes_nothing(tiny_bundle, tmp_path):
    d = _calib_dir(tmp_path / "c", camera="wrist")
    with pytest.raises(CalibrationError):
        quantize(tiny_bundle("bins"), tmp_path / "q", QuantizeConfig(calib=d))
    assert not (tmp_path / "q").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".q.")]


def _demo_set(root, camera="front", size=64, episodes=3, length=10):
    from vla_edge.sim.data import DemoWriter

    header = {"suite": "mt3-smoke", "camera": camera, "image_size": size, "state_dim": 8}
    writer = DemoWriter(root, header)
    rng = np.random.default_rng(0)
    for seed in range(episodes):
        frames = rng.integers(0, 255, (length, size, size, 3), dtype=np.uint8)
        state = rng.normal(size=(length, 8)).astype(np.float32)
        writer.add(
            "drawer-close-v3",
            "close the drawer",
            seed,
            {camera: frames},
            state,
            np.zeros((length, 4), np.float32),
        )
    return root


def test_demonstration_set(tmp_path, spec):
    root = _demo_set(tmp_path / "demos")
    data = load_calibration(root, spec, limit=12)
    assert len(data) == 12 and data.instructions == ["close the drawer"] * 12
    assert data.frames["front"].shape == (12, 64, 64, 3) and data.states.shape == (12, 8)
    assert data.source == str(root)


def test_demonstration_set_errors(tmp_path, spec):
    wrong = _demo_set(tmp_path / "corner", camera="corner")
    with pytest.raises(CalibrationError, match=r"cameras \['corner'\].*takes \['front'\]"):
        load_calibration(wrong, spec, limit=8)
    root = _demo_set(tmp_path / "demos")
    shard = next((root / "episodes").iterdir())
    shard.write_bytes(shard.read_bytes()[:-10])
    with pytest.raises(CalibrationError, match=shard.name):
        load_calibration(root, spec, limit=40)
