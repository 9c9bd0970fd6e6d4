"""`vla-edge train --head ar|ar-parallel`: behaviour cloning of a decoder LLM's action tokens on a
demonstration set, resumable, exported with its KV cache."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.sim.helpers import write_synthetic_demos
from vla_edge.train.bc import TrainConfig, train

TINY = {
    "decoder.hidden_size": 32,
    "decoder.num_hidden_layers": 1,
    "vision_layers": 1,
    "decoder_type": "qwen2",
}


def _cfg(head="ar", steps=30, **kw):
    return TrainConfig(
        preset="tiny",
        head=head,
        steps=steps,
        batch=8,
        warmup=2,
        threads=1,
        save_every=10,
        lr=3e-3,
        chunk=2,
        overrides=TINY,
        **kw,
    )


@pytest.mark.parametrize("head", ["ar", "ar-parallel"])
def test_loss_decreases_and_the_checkpoint_exports(tmp_path, head):
    from vla_edge.export import export_checkpoint

    data = write_synthetic_demos(tmp_path / "d")
    summary = train(data, tmp_path / "ck", _cfg(head), progress=False)
    state = __import__("torch").load(tmp_path / "ck" / "train_state.pt", weights_only=True)
    history = state["history"].numpy()
    assert history[-5:].mean() < history[:3].mean() and summary["samples"] == 48
    cfg = json.loads((tmp_path / "ck" / "config.json").read_text())
    assert cfg["model_type"] == "vla_edge_autoregressive" and cfg["decoder_type"] == "qwen2"
    assert cfg["spec"]["action"]["representation"] == "bins"
    assert cfg["decoding"] == ("parallel" if head == "ar-parallel" else "autoregressive")
    b = export_checkpoint(tmp_path / "ck", tmp_path / "b")
    assert b.manifest["validation"]["parity"]["tokens"]["identical_sequences"] == 1.0


def test_resume_is_deterministic(tmp_path):
    from safetensors.numpy import load_file

    data = write_synthetic_demos(tmp_path / "d")
    train(data, tmp_path / "straight", _cfg(steps=6), progress=False)
    train(data, tmp_path / "resumed", _cfg(steps=3), progress=False)
    train(data, tmp_path / "resumed", _cfg(steps=6), resume=True, progress=False)
    a = load_file(tmp_path / "straight" / "model.safetensors")
    b = load_file(tmp_path / "resumed" / "model.safetensors")
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)
