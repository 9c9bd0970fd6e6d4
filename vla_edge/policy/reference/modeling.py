"""VlaForActions: ViT patch encoder over each camera, text encoder, proprio projection,
cross-attention fusion with learned readout queries (one per chunk step), and an action head.

The instruction path (`encode_instruction`) is separate from the per-frame path (`act`) so the
export can put them in two graphs and the robot loop re-encodes an instruction only when it
changes. `forward` composes both.
"""

from __future__ import annotations

import torch
from torch import nn
from transformers import PreTrainedModel

from vla_edge.errors import SpecError
from vla_edge.policy.reference.configuration import VlaConfig
from vla_edge.policy.reference.heads import HEADS
from vla_edge.policy.reference.layers import (
    DecoderBlock,
    EncoderBlock,
    MlpFusion,
    PretrainedTextEncoder,
    TextEncoder,
    additive_mask,
)
from vla_edge.policy.reference.vision import (
    camera_encoder_class,
    camera_tokens,
)
from vla_edge.policy.spec import PolicySpec


class VlaForActions(PreTrainedModel):
    config_class = VlaConfig
    base_model_prefix = "vla"
    main_input_name = "input_ids"
    _supports_sdpa = False

    def __init__(self, config: VlaConfig) -> None:
        super().__init__(config)
        if config.spec is None:
            raise SpecError("VlaConfig needs a spec (PolicySpec.to_dict()) to build a model")
        self.policy_spec = PolicySpec.from_dict(config.spec)
        spec, d = self.policy_spec, config.hidden_size
        if config.head not in HEADS:
            raise SpecError(f"unknown head {config.head!r}; known heads: {sorted(HEADS)}")
        if spec.action.representation != config.head:
            raise SpecError(
                f"head {config.head!r} does not match the spec's action representation "
                f"{spec.action.representation!r}"
            )
        encoder = camera_encoder_class(getattr(config, "vision_encoder", "patch"))
        self.cameras = nn.ModuleDict(
            {c.name: encoder(config, c.height, c.width) for c in spec.cameras}
        )
        self.camera_embed = nn.Parameter(torch.zeros(len(spec.cameras), d))
        self.vision = nn.ModuleList(
            EncoderBlock(d, *config.vision_block(i)) for i in range(config.vision_layers)
        )
        self.vision_norm = nn.LayerNorm(d)
        own = config.text_encoder == "own"
        self.text = TextEncoder(config) if own else PretrainedTextEncoder(config)
        self.state_proj = nn.Linear(spec.state_dim, d) if spec.state_dim else None
        self.fusion_type = config.fusion_type
        if self.fusion_type == "attention":
            self.queries = nn.Parameter(torch.randn(spec.action.chunk, d) * 0.02)
            self.fusion = nn.ModuleList(
                DecoderBlock(d, *config.fusion_block(i)) for i in range(config.fusion_layers)
            )
        elif self.fusion_type == "mlp":
            self.fusion = nn.ModuleList()  # no attention blocks (pruning has nothing to cut)
            tokens = sum(enc.tokens for enc in self.cameras.values())
            self.fusion_mlp = MlpFusion(
                d,
                tokens,
                spec.action.chunk,
                self.state_proj is not None,
                config.fusion_layers,
                int(d * config.mlp_ratio),
            )
        else:
            raise SpecError(
                f"unknown fusion_type {self.fusion_type!r}; choose 'attention' or 'mlp'"
            )
        self.fusion_norm = nn.LayerNorm(d)
        self.head = HEADS[config.head](config)
        norm = spec.normalization
        s = spec.state_dim
        self.register_buffer("state_mean", torch.tensor(norm.state_mean or [0.0] * s))
        self.register_buffer("state_std", torch.tensor(norm.state_std or [1.0] * s))
        self.post_init()

    def _init_weights(self, module: nn.Module) -> None:
        if isinstance(module, nn.Linear):
            nn.init.trunc_normal_(module.weight, std=0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)

    # --- the two paths -------------------------------------------------------------------------
    def encode_instruction(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor
    ) -> torch.Tensor:
        """Token ids [B, L] -> instruction embedding [B, L, D]."""
        return self.text(input_ids, attention_mask)

    def act(
        self,
        images: dict[str, torch.Tensor],
        instruction_embedding: torch.Tensor,
        attention_mask: torch.Tensor,
        state: torch.Tensor | None = None,
    ) -> torch.Tensor:
        return self.head(self.features(images, instruction_embedding, attention_mask, state))

    def features(
        self, images, instruction_embedding, attention_mask, state=None, cached: bool = False
    ) -> torch.Tensor:
        """Readout features [B, chunk, D] from frames, instruction embedding and state.

        `cached=True`: `images` holds each camera's frozen-trunk features (a pretrained encoder's
        `frozen(frame)`, computed once per frame in training) instead of uint8 frames."""
        tokens = [
            camera_tokens(name, self.cameras[name], images[name], cached) + self.camera_embed[i]
            for i, name in enumerate(self.policy_spec.camera_names)
        ]
        x = torch.cat(tokens, dim=1)
        for block in self.vision:
            x = block(x)
        if self.fusion_type == "mlp":
            z = self._state_token(state)
            y = self.fusion_mlp(self.vision_norm(x), instruction_embedding, attention_mask, z)
            return self.fusion_norm(y)
        ctx = [self.vision_norm(x), instruction_embedding]
        b = x.shape[0]
        ones = torch.ones(b, x.shape[1], dtype=attention_mask.dtype, device=x.device)
        masks = [ones, attention_mask]
        if self.state_proj is not None:
            ctx.append(self._state_token(state)[:, None, :])
            masks.append(ones[:, :1])
        ctx_mask = additive_mask(torch.cat(masks, dim=1))
        q = self.queries[None].expand(b, -1, -1)
        for block in self.fusion:
            q = block(q, torch.cat(ctx, dim=1), ctx_mask)
        return self.fusion_norm(q)

    def _state_token(self, state: torch.Tensor | None) -> torch.Tensor | None:
        """Standardized, projected proprio state [B, D] (None for a policy without state)."""
        if self.state_proj is None:
            return None
        if state is None:
            raise SpecError(f"this policy needs a state of size {self.policy_spec.state_dim}")
        return self.state_proj((state.to(torch.float32) - self.state_mean) / self.state_std)

    def forward(self, images, input_ids, attention_mask, state=None) -> torch.Tensor:
        """Frames (uint8 NHWC per camera), token ids and state -> actions [B, chunk, A]."""
        emb = self.encode_instruction(input_ids, attention_mask)
        return self.act(images, emb, attention_mask, state)

    def compute_loss(self, images, input_ids, attention_mask, state, actions) -> torch.Tensor:
        """Behaviour-cloning loss against target actions [B, chunk, A] in physical units."""
        emb = self.encode_instruction(input_ids, attention_mask)
        return self.head.loss(self.features(images, emb, attention_mask, state), actions)
