"""The decoder LLM: a transformers Llama / Qwen2 causal LM, and its forward pass written out
over the model's own modules so that it can run against a static-size KV cache.

`DecoderCore.forward` takes new token embeddings, their RoPE positions, optional past keys and
values (fixed-size buffers) with an additive mask over their slots, and an additive mask among
the new tokens; it returns the final-norm hidden states and the new tokens' keys and values.
The same code trains the model, runs the torch backend and is what the ONNX graphs are traced
from; transformers' own forward is the independent reference (`reference_hidden`).

Grouped-query attention is computed per key/value head (the query heads of a group are stacked
on the token axis), so a decode step reads each cached key and value once.
"""

from __future__ import annotations

import torch
from torch import nn

from vla_edge.errors import SpecError
from vla_edge.policy.autoregressive.configuration import DECODERS

MASK_VALUE = -1.0e4  # finite: FP16 and INT8 calibration stay away from -inf


def build_decoder(cfg) -> nn.Module:
    """A randomly initialized LlamaForCausalLM / Qwen2ForCausalLM from `cfg.decoder`."""
    from transformers import AutoModelForCausalLM, LlamaConfig, Qwen2Config

    if cfg.decoder_type not in DECODERS:
        raise SpecError(f"unknown decoder type {cfg.decoder_type!r}; known: {list(DECODERS)}")
    config_cls = {"llama": LlamaConfig, "qwen2": Qwen2Config}[cfg.decoder_type]
    dcfg = config_cls(**cfg.decoder)
    return AutoModelForCausalLM.from_config(dcfg, attn_implementation="eager")


def additive(keep: torch.Tensor) -> torch.Tensor:
    """1/0 (or bool) keep-mask -> 0 / MASK_VALUE additive float mask."""
    return (1.0 - keep.to(torch.float32)) * MASK_VALUE


def causal_keep(n: int, device=None) -> torch.Tensor:
    return torch.ones(n, n, dtype=torch.bool, device=device).tril()


class DecoderCore:
    """Explicit forward over `decoder.model.layers` (no transformers Cache objects). A plain
    object, not a module: it holds no weights of its own, only the decoder it runs."""

    def __init__(self, decoder: nn.Module) -> None:
        self.lm = decoder.model  # LlamaModel / Qwen2Model (shared, not a copy)
        cfg = decoder.config
        self.layers = cfg.num_hidden_layers
        self.heads = cfg.num_attention_heads
        self.kv_heads = cfg.num_key_value_heads
        self.head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // self.heads
        self.groups = self.heads // self.kv_heads

    def __call__(
        self,
        x: torch.Tensor,
        positions: torch.Tensor,
        self_mask: torch.Tensor,
        past: list[tuple[torch.Tensor, torch.Tensor]] | None = None,
        past_mask: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, list[tuple[torch.Tensor, torch.Tensor]]]:
        """x [B, N, D], positions [B, N], self_mask additive [B|1, 1, N, N], past: per layer
        (keys, values) [B, kv, T, hd] with past_mask additive [B, 1, 1, T]."""
        cos, sin = self.lm.rotary_emb(x, positions)
        mask = (
            self_mask
            if past is None
            else torch.cat(
                [
                    past_mask.expand(-1, -1, x.shape[1], -1),
                    self_mask.expand(x.shape[0], -1, -1, -1),
                ],
                dim=-1,
            )
        )
        new = []
        for i, layer in enumerate(self.lm.layers):
            x, kv = self._layer(layer, x, cos, sin, mask, None if past is None else past[i])
            new.append(kv)
        return self.lm.norm(x), new

    def _layer(self, layer, x, cos, sin, mask, past):
        from transformers.models.llama.modeling_llama import apply_rotary_pos_emb

        attn, n = layer.self_attn, x.shape[1]
        h = layer.input_layernorm(x)
        q = attn.q_proj(h).reshape(-1, n, self.heads, self.head_dim).transpose(1, 2)
        k = attn.k_proj(h).reshape(-1, n, self.kv_heads, self.head_dim).transpose(1, 2)
        v = attn.v_proj(h).reshape(-1, n, self.kv_heads, self.head_dim).transpose(1, 2)
        q, k = apply_rotary_pos_emb(q, k, cos, sin)
        keys = k if past is None else torch.cat([past[0], k], dim=2)
        values = v if past is None else torch.cat([past[1], v], dim=2)
        y = self._attend(q, keys, values, mask, attn.scaling)
        x = x + attn.o_proj(y.transpose(1, 2).reshape(-1, n, self.heads * self.head_dim))
        x = x + layer.mlp(layer.post_attention_layernorm(x))
        return x, (k, v)

    def _attend(self, q, keys, values, mask, scaling):
        """q [B, H, N, hd] against keys/values [B, kv, S, hd]; mask additive [B|1, 1, N, S]."""
        n, s, g = q.shape[2], keys.shape[2], self.groups
        qg = q.reshape(-1, self.kv_heads, g * n, self.head_dim)
        scores = torch.matmul(qg, keys.transpose(-1, -2)) * scaling
        scores = scores.reshape(-1, self.kv_heads, g, n, s) + mask[:, :, None]
        probs = torch.softmax(scores, dim=-1).reshape(-1, self.kv_heads, g * n, s)
        return torch.matmul(probs, values).reshape(-1, self.heads, n, self.head_dim)


def reference_hidden(decoder, x, attention_mask, positions) -> torch.Tensor:
    """transformers' own forward (eager attention, causal + padding mask): final hidden states."""
    out = decoder.model(inputs_embeds=x, attention_mask=attention_mask, position_ids=positions)
    return out.last_hidden_state
