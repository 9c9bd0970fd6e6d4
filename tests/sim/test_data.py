"""Demonstration format: round trip, per-step access, corruption reported by shard name."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.sim.helpers import write_synthetic_demos
from vla_edge.errors import DataError
from vla_edge.sim.data import DemoDataset, DemoWriter
from vla_edge.sim.suites import DEMO_SEED_BASE, EVAL_SEED_BASE, get_suite


def test_round_trip(tmp_path):
    root = write_synthetic_demos(tmp_path / "d", episodes=2, length=7)
    ds = DemoDataset(root)
    assert len(ds.episodes) == 4 and len(ds) == 28
    assert ds.tasks == ["drawer-close-v3", "window-close-v3"]
    arr = ds.arrays()
    assert arr["frames"]["corner"].shape == (28, 64, 64, 3)
    assert arr["frames"]["corner"].dtype == np.uint8
    assert arr["state"].shape == (28, 21) and arr["actions"].shape == (28, 4)
    assert list(np.bincount(arr["episode"])) == [7, 7, 7, 7]
    sample = ds[8]  # second episode, step 1
    assert sample["episode"] == 1 and sample["instruction"] == "close the drawer"
    np.testing.assert_array_equal(sample["state"], arr["state"][8])
    np.testing.assert_array_equal(ds[-1]["actions"], arr["actions"][-1])
    with pytest.raises(IndexError):
        ds[28]
    assert ds.spec(chunk=4, representation="bins").state_dim == 21


def test_corrupted_shard_is_named(tmp_path):
    root = write_synthetic_demos(tmp_path / "d", episodes=1)
    ds = DemoDataset(root)
    shard = root / ds.episodes[1].file
    shard.write_bytes(shard.read_bytes()[:-10] + b"0123456789")
    with pytest.raises(DataError, match=ds.episodes[1].file):
        DemoDataset(root).arrays()
    shard.unlink()
    with pytest.raises(DataError, match="missing"):
        DemoDataset(root).load(ds.episodes[1])


def test_not_a_dataset_and_empty(tmp_path):
    with pytest.raises(DataError, match="sim demos"):
        DemoDataset(tmp_path)
    (tmp_path / "index.json").write_text(json.dumps({"format": "other"}))
    with pytest.raises(DataError, match="vla-edge-demos"):
        DemoDataset(tmp_path)


def test_resume_keeps_episodes_and_refuses_other_settings(tmp_path):
    root = write_synthetic_demos(tmp_path / "d", episodes=1)
    header = json.loads((root / "index.json").read_text())
    header.pop("episodes")
    writer = DemoWriter(root, header)
    assert writer.has("drawer-close-v3", 0) and not writer.has("drawer-close-v3", 1)
    with pytest.raises(DataError, match="image_size"):
        DemoWriter(root, {**header, "image_size": 96})


def test_demo_and_eval_seeds_are_disjoint():
    suite = get_suite("mt10")
    from vla_edge.sim.evaluate import eval_seed

    demo_max = DEMO_SEED_BASE + (len(suite.tasks) - 1) * 10_000 + 9_999
    assert demo_max < EVAL_SEED_BASE <= eval_seed(0, 0)
    assert get_suite("mt3-smoke").task("drawer-close").env_name == "drawer-close-v3"
