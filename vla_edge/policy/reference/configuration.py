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
        mlp_ratio: float = 2.0,
        flow_steps: int = 10,
        flow_hidden: int = 128,
        flow_noise_seed: int = 0,
        image_mean: tuple[float, float, float] = (0.5, 0.5, 0.5),
        image_std: tuple[float, float, float] = (0.5, 0.5, 0.5),
        preset: str = "custom",
        **kwargs,
    ) -> None:
        self.spec = spec
        self.head = head
        self.patch_size = patch_size
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
        self.mlp_ratio = mlp_ratio
        self.flow_steps = flow_steps
        self.flow_hidden = flow_hidden
        self.flow_noise_seed = flow_noise_seed
        self.image_mean = list(image_mean)
        self.image_std = list(image_std)
        self.preset = preset
        super().__init__(**kwargs)

    @property
    def max_tokens(self) -> int:
        return self.spec["instruction"]["max_tokens"]
