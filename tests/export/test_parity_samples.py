"""Export parity runs on at least 32 observations, real frames among them when given, and
records them (with the FP32 graph's actions) in the bundle for `vla-edge validate`."""

from __future__ import annotations

import numpy as np
import pytest

from vla_edge.backends import runners_for
from vla_edge.bundle import Bundle
from vla_edge.errors import ParityError
from vla_edge.export import ExportConfig, ParityConfig, export_checkpoint
from vla_edge.export.samples import SAMPLES_FILE, feeds_of, load_observations


def _frames_npz(path, n=10, seed=3):
    rng = np.random.default_rng(seed)
    frames = np.zeros((n, 64, 64, 3), np.uint8)
    frames[:, 16:48, 16:48] = rng.integers(0, 256, (n, 1, 1, 3), np.uint8)  # camera-like blobs
    np.savez(
        path,
        image_front=frames,
        instructions=np.asarray(["open the drawer"] * n),
        state=rng.standard_normal((n, 8)).astype(np.float32),
    )
    return frames


def test_default_parity_runs_on_32_samples_and_records_them(tiny_bundle):
    b = Bundle.load(tiny_bundle("bins"))
    parity = b.manifest["validation"]["parity"]
    assert parity["samples"] == 32 and parity["real_frames"] == 0 and parity["source"] == "random"
    obs, actions = load_observations(b.path / SAMPLES_FILE)
    assert obs["image_front"].shape == (32, 64, 64, 3) and len(obs["instructions"]) == 32
    assert actions.shape == (32, 4, 4)
    # the recorded actions are what the bundle's FP32 graphs compute on the recorded frames
    from vla_edge.policy.tokenizer import load_tokenizer

    spec = b.spec
    tok = load_tokenizer(spec.instruction.tokenizer, spec.instruction.max_tokens, b.tokenizer_dir)
    feeds = feeds_of(obs, spec, tok)
    runners = runners_for(b)
    with runners["instruction_encoder"] as enc, runners["policy"] as pol:
        feeds["instruction_embedding"] = enc.infer(enc.feeds_from(feeds))["instruction_embedding"]
        out = pol.infer(pol.feeds_from(feeds))["actions"]
    np.testing.assert_array_equal(out, actions)


def test_real_frames_join_the_parity_samples(tiny_checkpoint, tmp_path):
    frames = _frames_npz(tmp_path / "frames.npz")
    cfg = ExportConfig(parity=ParityConfig(samples=40, data=tmp_path / "frames.npz"))
    b = export_checkpoint(tiny_checkpoint("continuous"), tmp_path / "b", cfg)
    parity = b.manifest["validation"]["parity"]
    assert parity["samples"] == 40 and parity["real_frames"] == 10
    assert parity["source"].endswith("frames.npz") and parity["passed"]
    obs, _ = load_observations(b.path / SAMPLES_FILE)
    np.testing.assert_array_equal(obs["image_front"][:10], frames)
    assert list(obs["instructions"][:10]) == ["open the drawer"] * 10


def test_fewer_than_32_parity_samples_are_refused():
    with pytest.raises(ParityError, match="at least 32"):
        ParityConfig(samples=8)
