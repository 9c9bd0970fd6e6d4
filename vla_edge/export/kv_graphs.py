"""Graph modules of a KV-cache (autoregressive VLA) bundle, traced by export and run eagerly by
the torch backend. Names, shapes and the slot layout are described in
`vla_edge.policy.autoregressive.decode`; every axis but the batch is static (TensorRT 10.3).

- vision_encoder: image_<camera> uint8 [B,H,W,3], state [B,S] -> observation_embeds [B,N,D]
- prefix: input_ids, attention_mask int64 [B,L] -> present.<i>.key/value [B,kv,L,hd]
- prefill: observation_embeds, attention_mask int64 [B,T], position_ids int64 [B,N'],
  past_key_values.<i>.key/value [B,kv,T,hd] -> action_logits [B,K,bins],
  action_bins int64 [B,K], present.<i>.key/value [B,kv,N,hd]
- decode_step: action_bin int64 [B,1], attention_mask [B,T], position_ids [B,1],
  past_key_values.* -> action_logits [B,1,bins], action_bins [B,1], present.* [B,kv,1,hd]

Autoregressive: K = 1, N' = N, T = L + N + A - 1. Parallel: K = N' - N = A (the action queries
live in the graph), T = L, and no decode_step.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from vla_edge.backends.base import TensorMeta
from vla_edge.export.graphs import GraphSpec, image_names
from vla_edge.policy.autoregressive.decoder import additive, causal_keep


def kv_names(layers: int, prefix: str) -> list[str]:
    return [f"{prefix}{i}.{kind}" for i in range(layers) for kind in ("key", "value")]


def _pairs(flat) -> list[tuple[torch.Tensor, torch.Tensor]]:
    return [(flat[i], flat[i + 1]) for i in range(0, len(flat), 2)]


def _flat(kvs) -> tuple[torch.Tensor, ...]:
    return tuple(t for kv in kvs for t in kv)


class VisionGraph(nn.Module):
    def __init__(self, model) -> None:
        super().__init__()
        self.model, self.cams = model, model.policy_spec.camera_names

    def forward(self, *args: torch.Tensor) -> torch.Tensor:
        n = len(self.cams)
        state = args[n] if len(args) > n else None
        return self.model.observation_embeds(dict(zip(self.cams, args[:n], strict=True)), state)


class PrefixGraph(nn.Module):
    def __init__(self, model) -> None:
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor):
        m = self.model
        positions, _ = m.positions(attention_mask, 0)
        keep = causal_keep(input_ids.shape[1])[None, None] & attention_mask[:, None, None].bool()
        _, kvs = m.core(m.token_embeds(input_ids), positions, additive(keep))
        return _flat(kvs)


class PrefillGraph(nn.Module):
    def __init__(self, model) -> None:
        super().__init__()
        self.model = model
        self.parallel = model.config.decoding == "parallel"
        n, a = model.observation_tokens, model.config.action_tokens
        keep = causal_keep(n + (a if self.parallel else 0))
        if self.parallel:
            keep[n:, n:] = True
        self.register_buffer("self_keep", keep[None, None], persistent=False)

    def forward(self, observation_embeds, attention_mask, position_ids, *past):
        m, x = self.model, observation_embeds
        if self.parallel:
            queries = m.action_queries[None].expand(x.shape[0], -1, -1)
            x = torch.cat([x, queries], dim=1)
        past_mask = additive(attention_mask[:, None, None, :])
        h, kvs = m.core(x, position_ids, additive(self.self_keep), _pairs(past), past_mask)
        k = m.config.action_tokens if self.parallel else 1
        logits = m.action_logits(h[:, -k:])
        bins = torch.argmax(logits, dim=-1)
        return (logits, bins) if self.parallel else (logits, bins, *_flat(kvs))


class DecodeStepGraph(nn.Module):
    def __init__(self, model) -> None:
        super().__init__()
        self.model = model
        self.register_buffer(
            "self_keep", torch.ones(1, 1, 1, 1, dtype=torch.bool), persistent=False
        )

    def forward(self, action_bin, attention_mask, position_ids, *past):
        m = self.model
        past_mask = additive(attention_mask[:, None, None, :])
        x = m.bin_embeds(action_bin)
        h, kvs = m.core(x, position_ids, additive(self.self_keep), _pairs(past), past_mask)
        logits = m.action_logits(h)
        return (logits, torch.argmax(logits, dim=-1), *_flat(kvs))


class Layout:
    """Sizes of the cache and the graphs of a model."""

    def __init__(self, model) -> None:
        spec, core = model.policy_spec, model.core
        self.parallel = model.config.decoding == "parallel"
        self.layers, self.kv_heads, self.head_dim = core.layers, core.kv_heads, core.head_dim
        self.prefix = spec.instruction.max_tokens
        self.observation = model.observation_tokens
        self.actions = model.config.action_tokens
        self.new = self.observation + (self.actions if self.parallel else 0)
        self.slots = (
            self.prefix if self.parallel else self.prefix + self.observation + self.actions - 1
        )
        self.hidden = model.decoder.config.hidden_size
        self.bins = model.config.bins

    def to_dict(self) -> dict:
        return dict(vars(self))


def kv_graph_specs(model) -> list[GraphSpec]:
    lay, spec = Layout(model), model.policy_spec
    past, present = kv_names(lay.layers, "past_key_values."), kv_names(lay.layers, "present.")
    state = ["state"] if spec.state_dim else []
    head = ["action_logits", "action_bins"]
    graphs = [
        GraphSpec(
            "vision_encoder",
            VisionGraph(model),
            [*image_names(spec), *state],
            ["observation_embeds"],
        ),
        GraphSpec("prefix", PrefixGraph(model), ["input_ids", "attention_mask"], present),
        GraphSpec(
            "prefill",
            PrefillGraph(model),
            ["observation_embeds", "attention_mask", "position_ids", *past],
            head + ([] if lay.parallel else present),
        ),
    ]
    if not lay.parallel:
        names = ["action_bin", "attention_mask", "position_ids", *past]
        graphs.append(GraphSpec("decode_step", DecodeStepGraph(model), names, head + present))
    return graphs


def input_meta(model, graph: GraphSpec) -> list[TensorMeta]:
    """Runner input metadata of one graph (batch axis None)."""
    lay, spec = Layout(model), model.policy_spec
    kv = (None, lay.kv_heads, lay.slots, lay.head_dim)
    table = {c.input_name: (np.uint8, (None, c.height, c.width, 3)) for c in spec.cameras}
    table.update(
        state=(np.float32, (None, spec.state_dim)),
        input_ids=(np.int64, (None, lay.prefix)),
        observation_embeds=(np.float32, (None, lay.observation, lay.hidden)),
        action_bin=(np.int64, (None, 1)),
    )
    mask = (None, lay.prefix if graph.role == "prefix" else lay.slots)
    positions = (None, lay.new if graph.role == "prefill" else 1)
    out = []
    for name in graph.input_names:
        if name.startswith("past_key_values."):
            dtype, shape = np.float32, kv
        elif name in ("attention_mask", "position_ids"):
            dtype, shape = np.int64, mask if name == "attention_mask" else positions
        else:
            dtype, shape = table[name]
        out.append(TensorMeta(name, np.dtype(dtype), shape))
    return out


def torch_runners(model, threads: int | None = None) -> dict:
    """Torch runners over the same graph modules that export traces."""
    from vla_edge.backends.torch import TorchRunner

    return {
        g.role: TorchRunner(g.module, input_meta(model, g), g.output_names, threads)
        for g in kv_graph_specs(model.eval())
    }
