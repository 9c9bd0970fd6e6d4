"""The camera-dependent suites: proprio-only state, two cameras, demos that record both."""

from __future__ import annotations

import numpy as np
import pytest

from tests.sim.helpers import write_synthetic_demos
from vla_edge.deps import available
from vla_edge.sim.data import DemoDataset
from vla_edge.sim.suites import get_suite

needs_sim = pytest.mark.skipif(not available("metaworld"), reason="needs the [sim] extra")


def test_vision_suites_hide_objects_and_goals_from_the_state():
    for name in ("mt10-vision", "mt3-vision-smoke"):
        suite = get_suite(name)
        assert suite.state == "proprio" and suite.state_dim == 4
        assert suite.cameras == ("corner", "gripperPOV") and suite.image_size == 96
    assert get_suite("mt10-vision").task_names == get_suite("mt10").task_names
    assert set(get_suite("mt3-vision-smoke").task_names) < set(get_suite("mt10").task_names)
    assert get_suite("mt10").state_dim == 21 and get_suite("mt10").cameras == ("corner",)


def test_suite_spec_has_every_camera_and_the_proprio_state():
    from vla_edge.sim.env import suite_spec

    spec = suite_spec("mt10-vision", chunk=4, representation="bins")
    assert spec.camera_names == ["corner", "gripperPOV"] and spec.state_dim == 4
    assert all((c.height, c.width) == (96, 96) for c in spec.cameras)


def test_multi_camera_demo_set_round_trip(tmp_path):
    root = write_synthetic_demos(
        tmp_path / "d", episodes=1, length=5, size=32, suite="mt3-vision-smoke"
    )
    ds = DemoDataset(root)
    assert ds.cameras == ["corner", "gripperPOV"] and ds.index["state"] == "proprio"
    arr = ds.arrays()
    assert {c: f.shape for c, f in arr["frames"].items()} == {
        "corner": (10, 32, 32, 3),
        "gripperPOV": (10, 32, 32, 3),
    }
    assert arr["state"].shape == (10, 4) and set(ds[3]["frames"]) == set(ds.cameras)
    assert ds.spec(chunk=2).camera_names == ["corner", "gripperPOV"]


@pytest.mark.sim
@needs_sim
def test_vision_env_state_is_proprio_and_the_frames_show_the_placement():
    from vla_edge.sim.env import make_env

    env = make_env("mt3-vision-smoke", "button-press-topdown-v3", seed=100_000)
    try:
        env.reset(100_000)
        frames, state, full = env.frames(), env.state(), env.privileged_state()
        assert set(frames) == {"corner", "gripperPOV"}
        assert all(f.shape == (96, 96, 3) and f.dtype == np.uint8 for f in frames.values())
        assert state.shape == (4,) and full.shape == (21,)
        np.testing.assert_array_equal(state, full[:4])
        env.reset(100_001)  # another placement: same proprio start, other pixels
        assert np.allclose(env.state(), state, atol=1e-3)
        assert not np.array_equal(env.frames()["corner"], frames["corner"])
        assert not np.allclose(env.privileged_state()[4:], full[4:])
    finally:
        env.close()


@pytest.mark.sim
@needs_sim
def test_vision_demos_record_both_cameras_and_the_privileged_state(tmp_path):
    from vla_edge.sim.demos import DemoConfig, generate

    cfg = DemoConfig(suite="mt3-vision-smoke", episodes=1, image_size=32)
    stats = generate(cfg, tmp_path / "demos", progress=False)
    assert all(s["kept"] == 1 for s in stats.values())
    ds = DemoDataset(tmp_path / "demos")
    data = ds.load(ds.episodes[0])
    t = ds.episodes[0].length
    assert data["frames_corner"].shape == data["frames_gripperPOV"].shape == (t, 32, 32, 3)
    assert data["state"].shape == (t, 4) and data["privileged"].shape == (t, 21)
    np.testing.assert_array_equal(data["state"], data["privileged"][:, :4])
