"""VlaConfig: a transformers PretrainedConfig that carries the PolicySpec it was built for."""

from __future__ import annotations

from transformers import PretrainedConfig


class VlaConfig(PretrainedConfig):
    model_type = "vla_edge_reference"

    def __init__(
        self,
        spec: dict | None = None,
        head: str = "bins",
        patch_size: int = 16,
        vision_encoder: str = "patch",
        vision_backbone_blocks: int = 11,
        vision_finetune_blocks: int = 0,
        vision_input_pool: int = 1,
        hidden_size: int = 64,
        vision_layers: int = 2,
        vision_heads: int = 2,
        text_encoder: str = "own",
        text_layers: int = 1,
        text_heads: int = 2,
        text_config: dict | None = None,
        vocab_size: int = 259,
        fusion_layers: int = 1,
        fusion_heads: int = 2,
        fusion_type: str = "attention",
        mlp_ratio: float = 2.0,
        flow_steps: int = 10,
        flow_hidden: int = 128,
        flow_noise_seed: int = 0,
        image_mean: tuple[float, float, float] = (0.5, 0.5, 0.5),
        image_std: tuple[float, float, float] = (0.5, 0.5, 0.5),
        preset: str = "custom",
        vision_block_heads: list[int] | None = None,
        vision_block_mlp: list[int] | None = None,
        fusion_block_heads: list[list[int]] | None = None,
        fusion_block_mlp: list[int] | None = None,
        vision_token_pool: int = 1,
        sparsity: str | None = None,
        compression: list | None = None,
        **kwargs,
    ) -> None:
        self.spec = spec
        self.head = head
        self.patch_size = patch_size
        # "patch": a ViT patch embedding trained from scratch; "efficientnet-lite0": the ImageNet
        # EfficientNet-Lite0 trunk (first `vision_backbone_blocks` MBConv blocks), frozen except
        # its last `vision_finetune_blocks` (vla_edge/policy/reference/vision.py)
        self.vision_encoder = vision_encoder
        self.vision_backbone_blocks = vision_backbone_blocks
        self.vision_finetune_blocks = vision_finetune_blocks
        # average-pool factor on the frame inside the graph before the EfficientNet stem
        self.vision_input_pool = vision_input_pool
        self.hidden_size = hidden_size
        self.vision_layers = vision_layers
        self.vision_heads = vision_heads
        self.text_encoder = text_encoder
        self.text_layers = text_layers
        self.text_heads = text_heads
        self.text_config = text_config
        self.vocab_size = vocab_size
        self.fusion_layers = fusion_layers
        self.fusion_heads = fusion_heads
        # "attention": readout queries cross-attend to vision, instruction and state tokens.
        # "mlp": flattened vision tokens, mean-pooled instruction and the state projection go
        # through `fusion_layers` GELU layers (of hidden * mlp_ratio) to the chunk's readout
        # features: far fewer graph nodes, for small students (`vla-edge distill`).
        self.fusion_type = fusion_type
        self.mlp_ratio = mlp_ratio
        self.flow_steps = flow_steps
        self.flow_hidden = flow_hidden
        self.flow_noise_seed = flow_noise_seed
        self.image_mean = list(image_mean)
        self.image_std = list(image_std)
        self.preset = preset
        # Optional, written by `vla-edge prune` (None/1 = every block as the preset builds it):
        # per-block kept attention heads and MLP widths, vision-token pooling, 2:4 sparsity
        # marker and the compression steps applied.
        self.vision_block_heads = vision_block_heads
        self.vision_block_mlp = vision_block_mlp
        self.fusion_block_heads = fusion_block_heads
        self.fusion_block_mlp = fusion_block_mlp
        self.vision_token_pool = vision_token_pool
        self.sparsity = sparsity
        self.compression = compression
        super().__init__(**kwargs)

    def vision_block(self, i: int) -> tuple:
        """EncoderBlock arguments after hidden size for vision block i."""
        if self.vision_block_heads is None and self.vision_block_mlp is None:
            return self.vision_heads, self.mlp_ratio
        heads = _at(self.vision_block_heads, i, self.vision_heads)
        mlp = _at(self.vision_block_mlp, i, None)
        return heads, self.mlp_ratio, self.hidden_size // self.vision_heads, mlp

    def fusion_block(self, i: int) -> tuple:
        """DecoderBlock arguments after hidden size for fusion block i."""
        if self.fusion_block_heads is None and self.fusion_block_mlp is None:
            return self.fusion_heads, self.mlp_ratio
        self_h, cross_h = _at(self.fusion_block_heads, i, [self.fusion_heads] * 2)
        mlp = _at(self.fusion_block_mlp, i, None)
        return self_h, self.mlp_ratio, self.hidden_size // self.fusion_heads, mlp, cross_h

    @property
    def max_tokens(self) -> int:
        return self.spec["instruction"]["max_tokens"]


def _at(values: list | None, i: int, default):
    return default if values is None else values[i]
