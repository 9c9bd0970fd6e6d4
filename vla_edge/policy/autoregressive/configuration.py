"""ArVlaConfig: a transformers PretrainedConfig for the autoregressive (RT-2 / OpenVLA-style)
family: a camera encoder per camera (a ViT patch encoder, or the pretrained EfficientNet-Lite0
trunk of the reference family), a projector into a decoder LLM (Llama or Qwen2 class,
from transformers), and action tokens from the last `bins` ids of the decoder's vocabulary.

`decoding` is "autoregressive" (one greedy token per action dimension, each step fed back
through the KV cache) or "parallel" (OpenVLA-OFT: learned action queries, bidirectional among
themselves, every action token from one pass).
"""

from __future__ import annotations

from typing import Any

from transformers import PretrainedConfig

DECODERS = ("llama", "qwen2")
DECODINGS = ("autoregressive", "parallel")

# Decoder sizes of the presets (transformers LlamaConfig / Qwen2Config fields).
DECODER_PRESETS: dict[str, dict[str, Any]] = {
    "tiny": dict(
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
    ),
    "small": dict(
        hidden_size=128,
        intermediate_size=384,
        num_hidden_layers=4,
        num_attention_heads=4,
        num_key_value_heads=2,
    ),
}
VISION_PRESETS: dict[str, dict[str, Any]] = {
    "tiny": dict(vision_hidden=32, vision_layers=1, vision_heads=2, patch_size=16),
    "small": dict(vision_hidden=64, vision_layers=2, vision_heads=2, patch_size=16),
}


class ArVlaConfig(PretrainedConfig):
    model_type = "vla_edge_autoregressive"

    def __init__(
        self,
        spec: dict | None = None,
        decoder_type: str = "llama",
        decoder: dict | None = None,
        decoding: str = "autoregressive",
        vision_hidden: int = 32,
        vision_layers: int = 1,
        vision_heads: int = 2,
        patch_size: int = 16,
        mlp_ratio: float = 2.0,
        image_mean: tuple[float, float, float] = (0.5, 0.5, 0.5),
        image_std: tuple[float, float, float] = (0.5, 0.5, 0.5),
        vision_token_pool: int = 1,
        vision_encoder: str = "patch",
        vision_backbone_blocks: int = 11,
        vision_finetune_blocks: int = 0,
        text_vocab: int = 259,
        preset: str = "custom",
        decoder_source: str | None = None,
        **kwargs,
    ) -> None:
        self.spec = spec
        self.decoder_type = decoder_type
        self.decoder = decoder or {}
        self.decoding = decoding
        self.vision_hidden = vision_hidden
        self.vision_layers = vision_layers
        self.vision_heads = vision_heads
        self.patch_size = patch_size
        self.mlp_ratio = mlp_ratio
        self.image_mean = list(image_mean)
        self.image_std = list(image_std)
        self.vision_token_pool = vision_token_pool
        # "patch" (a ViT patch encoder trained from scratch) or a pretrained camera encoder
        # ("efficientnet-lite0": its first `vision_backbone_blocks` MBConv blocks, frozen but for
        # the last `vision_finetune_blocks`; the frozen part's features can be cached in training)
        self.vision_encoder = vision_encoder
        self.vision_backbone_blocks = vision_backbone_blocks
        self.vision_finetune_blocks = vision_finetune_blocks
        # instruction token ids are < text_vocab; action tokens are the last `bins` ids of the
        # decoder vocabulary (its vocab_size = text_vocab + bins for a fresh decoder)
        self.text_vocab = text_vocab
        self.preset = preset
        # where local decoder weights came from (None: random init)
        self.decoder_source = decoder_source
        super().__init__(**kwargs)

    @property
    def bins(self) -> int:
        return self.spec["action"]["bins"]

    @property
    def action_tokens(self) -> int:
        """Tokens per predict: one per action dimension and chunk step."""
        action = self.spec["action"]
        return action["chunk"] * len(action["names"])

    @property
    def max_tokens(self) -> int:
        return self.spec["instruction"]["max_tokens"]
