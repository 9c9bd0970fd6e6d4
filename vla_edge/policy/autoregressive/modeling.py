"""ArVlaForActions: an RT-2 / OpenVLA-style VLA. A camera encoder over each camera (a ViT patch
encoder, or the pretrained EfficientNet-Lite0 trunk with `vision_encoder="efficientnet-lite0"`),
vision blocks and an MLP projector turn the frames into vision tokens in the decoder's embedding
space; the proprio state (when the spec has one) becomes one more token; a transformers decoder
LLM (Llama or Qwen2 class) reads

    [instruction tokens | vision tokens | state token | action tokens]

and emits one action token per action dimension (and chunk step), greedy, from the last `bins`
ids of its vocabulary. The instruction comes first so that its keys and values (the prefix
cache) stay valid across camera frames while the instruction is unchanged (causal attention:
nothing earlier depends on later tokens). Positions count valid tokens only, so the padding of
a short instruction does not shift the RoPE positions of what follows.

With `decoding="parallel"` (OpenVLA-OFT) the action tokens are replaced by learned action
queries that attend to the whole prompt and to each other, and every action token comes from
one pass.
"""

from __future__ import annotations

from types import SimpleNamespace

import torch
import torch.nn.functional as F
from torch import nn
from transformers import PreTrainedModel

from vla_edge.errors import SpecError
from vla_edge.policy.autoregressive.configuration import DECODINGS, ArVlaConfig
from vla_edge.policy.autoregressive.decoder import (
    DecoderCore,
    additive,
    build_decoder,
    causal_keep,
    reference_hidden,
)
from vla_edge.policy.reference.layers import EncoderBlock
from vla_edge.policy.reference.vision import (
    camera_encoder_class,
    camera_tokens,
)
from vla_edge.policy.spec import PolicySpec


class ArVlaForActions(PreTrainedModel):
    config_class = ArVlaConfig
    base_model_prefix = "vla"
    main_input_name = "input_ids"
    _supports_sdpa = False

    def __init__(self, config: ArVlaConfig) -> None:
        super().__init__(config)
        if config.spec is None:
            raise SpecError("ArVlaConfig needs a spec (PolicySpec.to_dict()) to build a model")
        if config.decoding not in DECODINGS:
            raise SpecError(f"decoding must be one of {DECODINGS}, got {config.decoding!r}")
        self.policy_spec = spec = PolicySpec.from_dict(config.spec)
        if spec.action.representation != "bins":
            raise SpecError(
                "action tokens are bins: the spec's action representation must be 'bins', "
                f"got {spec.action.representation!r}"
            )
        vis = SimpleNamespace(
            patch_size=config.patch_size,
            hidden_size=config.vision_hidden,
            image_mean=config.image_mean,
            image_std=config.image_std,
            vision_token_pool=config.vision_token_pool,
            vision_encoder=config.vision_encoder,
            vision_backbone_blocks=config.vision_backbone_blocks,
            vision_finetune_blocks=config.vision_finetune_blocks,
        )
        encoder = camera_encoder_class(config.vision_encoder)
        self.cameras = nn.ModuleDict(
            {c.name: encoder(vis, c.height, c.width) for c in spec.cameras}
        )
        vh = config.vision_hidden
        self.camera_embed = nn.Parameter(torch.zeros(len(spec.cameras), vh))
        self.vision = nn.ModuleList(
            EncoderBlock(vh, config.vision_heads, config.mlp_ratio)
            for _ in range(config.vision_layers)
        )
        self.vision_norm = nn.LayerNorm(vh)
        self.decoder = build_decoder(config)
        d = self.decoder.config.hidden_size
        self.projector = nn.Sequential(nn.Linear(vh, d), nn.GELU(), nn.Linear(d, d))
        self.state_proj = nn.Linear(spec.state_dim, d) if spec.state_dim else None
        if config.decoding == "parallel":
            self.action_queries = nn.Parameter(torch.randn(config.action_tokens, d) * 0.02)
        self.core = DecoderCore(self.decoder)
        s = spec.state_dim
        norm = spec.normalization
        self.register_buffer("state_mean", torch.tensor(norm.state_mean or [0.0] * s))
        self.register_buffer("state_std", torch.tensor(norm.state_std or [1.0] * s))
        self.post_init()
        self._check_vocab()

    def _init_weights(self, module: nn.Module) -> None:
        if isinstance(module, nn.Linear):
            nn.init.trunc_normal_(module.weight, std=0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, std=0.02)

    def _check_vocab(self) -> None:
        vocab, bins = self.decoder.config.vocab_size, self.config.bins
        if vocab - bins < self.config.text_vocab and self.config.decoder_source is None:
            raise SpecError(
                f"decoder vocabulary {vocab} has no room for {bins} action tokens above the "
                f"{self.config.text_vocab} instruction tokens: use vocab_size >= "
                f"{self.config.text_vocab + bins}"
            )

    # --- sizes ---------------------------------------------------------------------------------
    @property
    def action_offset(self) -> int:
        """Vocabulary id of bin 0: the action tokens are the last `bins` ids."""
        return self.decoder.config.vocab_size - self.config.bins

    @property
    def observation_tokens(self) -> int:
        vision = sum(enc.tokens for enc in self.cameras.values())
        return vision + (1 if self.state_proj is not None else 0)

    # --- embeddings ----------------------------------------------------------------------------
    def observation_embeds(
        self, images: dict[str, torch.Tensor], state=None, cached: bool = False
    ) -> torch.Tensor:
        """Frames (uint8 NHWC per camera) and state -> [B, N_obs, D] decoder embeddings.

        `cached=True`: `images` holds each camera's frozen-trunk features (a pretrained
        encoder's `frozen(frame)`, computed once per frame in training) instead of frames."""
        tokens = [
            camera_tokens(name, self.cameras[name], images[name], cached) + self.camera_embed[i]
            for i, name in enumerate(self.policy_spec.camera_names)
        ]
        x = torch.cat(tokens, dim=1)
        for block in self.vision:
            x = block(x)
        out = self.projector(self.vision_norm(x))
        if self.state_proj is None:
            return out
        if state is None:
            raise SpecError(f"this policy needs a state of size {self.policy_spec.state_dim}")
        z = (state.to(torch.float32) - self.state_mean) / self.state_std
        return torch.cat([out, self.state_proj(z)[:, None, :]], dim=1)

    def token_embeds(self, ids: torch.Tensor) -> torch.Tensor:
        return self.decoder.model.embed_tokens(ids)

    def bin_embeds(self, bins: torch.Tensor) -> torch.Tensor:
        """Embeddings of action tokens given as bin indices (only the action rows are read)."""
        return F.embedding(bins, self.decoder.model.embed_tokens.weight[self.action_offset :])

    def action_logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """Hidden states [B, K, D] -> logits over the action slice of the vocabulary [B, K, bins]
        (only those rows of the LM head are computed)."""
        return F.linear(hidden, self.decoder.lm_head.weight[self.action_offset :])

    # --- the prompt ----------------------------------------------------------------------------
    @staticmethod
    def positions(mask: torch.Tensor, extra: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Instruction positions (valid tokens counted; padding repeats the last) and those of
        `extra` tokens that follow it, from the instruction mask [B, L]."""
        m = mask.to(torch.int64)
        # CumSum and Clip in float: TensorRT 10.3 runs them on float types only
        instr = (torch.cumsum(m.to(torch.float32), dim=1) - 1).clamp_min(0).to(torch.int64)
        after = m.sum(1, keepdim=True) + torch.arange(extra, device=mask.device)[None]
        return instr, after

    def _sequence(self, images, input_ids, attention_mask, state, tail, cached=False):
        """Embeddings, positions and key validity of [instruction | observation | tail]."""
        obs = self.observation_embeds(images, state, cached)
        x = torch.cat([self.token_embeds(input_ids), obs, tail], dim=1)
        instr, after = self.positions(attention_mask, obs.shape[1] + tail.shape[1])
        ones = torch.ones(x.shape[0], x.shape[1] - input_ids.shape[1], dtype=torch.int64)
        valid = torch.cat([attention_mask.to(torch.int64), ones], dim=1)
        return x, torch.cat([instr, after], dim=1), valid

    def _block_mask(self, valid: torch.Tensor, queries: int) -> torch.Tensor:
        """Causal, padding removed; the last `queries` tokens also see each other."""
        s = valid.shape[1]
        keep = causal_keep(s, valid.device)
        if queries:
            keep[s - queries :, s - queries :] = True
        return additive(keep[None, None] & valid[:, None, None, :].bool())

    # --- training ------------------------------------------------------------------------------
    def token_logits(
        self, images, input_ids, attention_mask, state, bins=None, cached: bool = False
    ) -> torch.Tensor:
        """Action-slice logits [B, A, bins]: teacher-forced on target `bins` [B, A]
        (autoregressive) or from the action queries in one pass (parallel). `cached`: `images`
        are frozen-trunk features (see `observation_embeds`)."""
        b, a = input_ids.shape[0], self.config.action_tokens
        if self.config.decoding == "parallel":
            tail = self.action_queries[None].expand(b, -1, -1)
        else:
            tail = self.bin_embeds(bins[:, : a - 1])
        x, pos, valid = self._sequence(images, input_ids, attention_mask, state, tail, cached)
        queries = a if self.config.decoding == "parallel" else 0
        hidden, _ = self.core(x, pos, self._block_mask(valid, queries))
        # autoregressive: the token before each action token predicts it (the last prompt token
        # predicts the first); parallel: each query predicts its own. Either way the last A.
        return self.action_logits(hidden[:, -a:])

    @staticmethod
    def trim(input_ids: torch.Tensor, attention_mask: torch.Tensor):
        """Drop trailing columns that are padding in every row: they are masked keys, so this
        changes nothing but the cost (instructions are far shorter than max_tokens). Training
        only; the graphs keep every slot."""
        n = max(int(attention_mask.sum(1).max()), 1)
        return input_ids[:, :n], attention_mask[:, :n]

    def compute_loss(
        self, images, input_ids, attention_mask, state, actions, cached: bool = False
    ) -> torch.Tensor:
        """Cross-entropy of the action tokens of target actions [B, chunk, A] (physical units)."""
        bins = self.to_bins(actions)
        input_ids, attention_mask = self.trim(input_ids, attention_mask)
        logits = self.token_logits(images, input_ids, attention_mask, state, bins, cached)
        return F.cross_entropy(logits.reshape(-1, self.config.bins), bins.reshape(-1))

    # --- actions <-> bins ----------------------------------------------------------------------
    def _limits(self) -> tuple[torch.Tensor, torch.Tensor]:
        a = self.policy_spec.action
        return torch.tensor(a.low), torch.tensor(a.high)

    def to_bins(self, actions: torch.Tensor) -> torch.Tensor:
        """Actions [B, chunk, A] -> bins [B, chunk * A] (step-major)."""
        low, high = self._limits()
        frac = (actions.to(torch.float32) - low) / (high - low)
        bins = torch.clamp((frac * self.config.bins).floor().long(), 0, self.config.bins - 1)
        return bins.reshape(bins.shape[0], -1)

    def from_bins(self, bins: torch.Tensor) -> torch.Tensor:
        """Bins [B, chunk * A] -> bin centres [B, chunk, A]."""
        low, high = self._limits()
        a = self.policy_spec.action
        centres = low + (bins.reshape(-1, a.chunk, a.dim).to(torch.float32) + 0.5) * (
            (high - low) / self.config.bins
        )
        return centres

    # --- greedy decoding (the PyTorch reference) -----------------------------------------------
    @torch.no_grad()
    def generate_bins(
        self, images, input_ids, attention_mask, state=None, cached: bool = False
    ) -> torch.Tensor:
        """Greedy action bins [B, A]. Autoregressive: transformers' own forward on the growing
        sequence, one token at a time (no cache: an implementation independent of the exported
        KV-cache graphs). Parallel: one pass over the action queries."""
        if self.config.decoding == "parallel":
            return self.token_logits(
                images, input_ids, attention_mask, state, cached=cached
            ).argmax(-1)
        b = input_ids.shape[0]
        empty = torch.zeros(b, 0, self.decoder.config.hidden_size)
        x, pos, valid = self._sequence(images, input_ids, attention_mask, state, empty, cached)
        out = []
        for _ in range(self.config.action_tokens):
            hidden = reference_hidden(self.decoder, x, valid, pos)[:, -1:]
            token = self.action_logits(hidden).argmax(-1)  # [B, 1]
            out.append(token)
            x = torch.cat([x, self.bin_embeds(token)], dim=1)
            pos = torch.cat([pos, pos[:, -1:] + 1], dim=1)
            valid = torch.cat([valid, torch.ones(b, 1, dtype=valid.dtype)], dim=1)
        return torch.cat(out, dim=1)

    def forward(self, images, input_ids, attention_mask, state=None) -> torch.Tensor:
        """Frames, token ids and state -> greedy actions [B, chunk, A] at bin centres."""
        return self.from_bins(self.generate_bins(images, input_ids, attention_mask, state))
