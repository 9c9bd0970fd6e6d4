"""Behaviour cloning: chunk targets, loss goes down, resume is bit-for-bit, spec carries stats."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.sim.helpers import write_synthetic_demos
from vla_edge.errors import CheckpointError, DataError
from vla_edge.train.bc import TrainConfig, chunk_index, train

TINY = {"hidden_size": 32, "vision_layers": 1, "fusion_layers": 1, "text_layers": 1}


def test_chunk_index_stays_in_episode():
    episode = np.array([0, 0, 0, 1, 1])
    step = np.array([0, 1, 2, 0, 1])
    idx = chunk_index(episode, step, 3)
    assert idx.tolist() == [[0, 1, 2], [1, 2, 2], [2, 2, 2], [3, 4, 4], [4, 4, 4]]


def test_config_is_checked():
    with pytest.raises(DataError, match="head"):
        TrainConfig(head="diffusion")
    with pytest.raises(DataError, match="steps"):
        TrainConfig(steps=0)


def _cfg(head="continuous", steps=6, **kw):
    return TrainConfig(
        preset="tiny",
        head=head,
        steps=steps,
        batch=8,
        warmup=2,
        threads=1,
        save_every=3,
        lr=3e-3,
        overrides=TINY,
        **kw,
    )


@pytest.mark.parametrize("head", ["bins", "continuous"])
def test_loss_decreases_and_spec_has_stats(tmp_path, head):
    data = write_synthetic_demos(tmp_path / "d")
    summary = train(data, tmp_path / "ck", _cfg(head, steps=40), progress=False)
    state = __import__("torch").load(tmp_path / "ck" / "train_state.pt", weights_only=True)
    history = state["history"].numpy()
    assert history[-10:].mean() < history[:5].mean()
    cfg = json.loads((tmp_path / "ck" / "config.json").read_text())
    norm = cfg["spec"]["normalization"]
    assert len(norm["state_mean"]) == 21 and min(norm["action_std"]) > 0
    assert cfg["spec"]["action"]["representation"] == head
    assert summary["samples"] == 48


def test_resume_is_deterministic(tmp_path):
    from safetensors.numpy import load_file

    data = write_synthetic_demos(tmp_path / "d")
    train(data, tmp_path / "straight", _cfg(steps=6), progress=False)
    train(data, tmp_path / "resumed", _cfg(steps=3), progress=False)
    train(data, tmp_path / "resumed", _cfg(steps=6), resume=True, progress=False)
    a = load_file(tmp_path / "straight" / "model.safetensors")
    b = load_file(tmp_path / "resumed" / "model.safetensors")
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)
    with pytest.raises(CheckpointError, match="other settings"):
        train(data, tmp_path / "resumed", _cfg(steps=8, seed=1), resume=True, progress=False)
