"""Graph split of LeRobot's flow-matching VLM policies (SmolVLA, pi0, pi0.5): the graph modules.

LeRobot's `sample_actions` runs the VLM once over the prefix (images, language, and for SmolVLA
the state), keeps every layer's keys and values, and then runs the action expert
`num_steps` times against that cache (Euler steps from noise at t=1 to actions at t=0). The
split exports those pieces as their own graphs, each calling LeRobot's own methods:

- vision_encoder.<camera>: image_<camera> uint8 [B,H,W,3] -> image_tokens_<camera> [B,N,D]
  (LeRobot's normalizer, resize-with-pad, [-1, 1], SigLIP + connector / projector)
- prefix: image_tokens_*, input_ids, attention_mask (+ state for SmolVLA) ->
  present.<i>.key/value [B,kv,P,hd] per VLM layer (post-RoPE, as LeRobot's DynamicCache holds
  them) and prefix_mask int64 [B,P] (LeRobot's prefix padding mask)
- denoise_step: x_t [B,T,A'], timestep [B], prefix_mask, past_key_values.* (+ state for pi0)
  -> velocity [B,T,A'] (LeRobot's `denoise_step`: the cache is read, never extended)
- action_decoder: x_t [B,T,A'] -> actions [B,T,A] (cut to the dataset's dimension, LeRobot's
  unnormalizer; the generic clamp to the limits follows)

The Euler loop, x <- x + dt * v with dt = -1/num_steps and t = 1 + k*dt, runs in the runtime
(vla_edge.policy.flow, numpy). What the attention allows to cache is decided by LeRobot's masks:
in both families the image and language tokens form one bidirectional block (att_mask 0), so
every language key/value past the first layer depends on the frame; the prefix cache is
therefore valid for one frame (reused by all its denoise steps), not across frames.
"""

from __future__ import annotations

import contextlib
import inspect

import torch
from torch import nn

from vla_edge.errors import AdapterError
from vla_edge.export.graphs import GraphSpec
from vla_edge.export.kv_graphs import kv_names
from vla_edge.policy.adapters.lerobot.base import (
    EMPTY_CAMERA,
    OBS_STATE,
    LeRobotGraph,
    _to_float_chw,
)


class Family:
    """Where SmolVLA and pi0/pi0.5 differ: which LeRobot methods make each piece."""

    def __init__(self, policy) -> None:
        self.policy, self.model = policy, policy.model
        self.smolvla = hasattr(self.model, "vlm_with_expert")
        self.owner = (
            self.model.vlm_with_expert if self.smolvla else self.model.paligemma_with_expert
        )
        params = inspect.signature(self.model.denoise_step).parameters
        self.state_in_prefix = self.smolvla
        self.state_in_suffix = "state" in params

    def images(self, batch: dict) -> list[torch.Tensor]:
        if self.smolvla:
            return self.policy.prepare_images(batch)[0]
        return self.policy._preprocess_images(batch)[0]

    def embed(self, image: torch.Tensor) -> torch.Tensor:
        return self.owner.embed_image(image)

    def prefix(self, tokens: list, ids, mask, state) -> tuple:
        """(per-layer (key, value) of the prefix, prefix pad mask), as sample_actions makes them."""
        from lerobot.policies.common.vla_utils import make_att_2d_masks

        ones = [torch.ones(t.shape[0], dtype=torch.bool, device=t.device) for t in tokens]
        with _identity_embed_image(self.owner):
            if self.smolvla:
                embs, pad, att = self.model.embed_prefix(tokens, ones, ids, mask, state=state)
            else:
                embs, pad, att = self.model.embed_prefix(tokens, ones, ids, mask)
        att2d = make_att_2d_masks(pad, att)
        positions = torch.cumsum(pad, dim=1) - 1
        if self.smolvla:
            _, cache = self.owner.forward(
                attention_mask=att2d,
                position_ids=positions,
                past_key_values=None,
                inputs_embeds=[embs, None],
                use_cache=True,
            )
        else:
            from lerobot.policies.pi0.modeling_pi0 import prepare_attention_masks_4d

            lm = self.owner.paligemma.model.language_model
            lm.config._attn_implementation = "eager"  # what sample_actions sets
            _, cache = self.owner.forward(
                attention_mask=prepare_attention_masks_4d(att2d),
                position_ids=positions,
                past_key_values=None,
                inputs_embeds=[embs, None],
                use_cache=True,
            )
        return [(layer.keys, layer.values) for layer in cache.layers], pad

    def denoise(self, x_t, timestep, pad, kvs, state) -> torch.Tensor:
        from transformers import DynamicCache

        cache = DynamicCache()
        for i, (k, v) in enumerate(kvs):
            cache.update(k, v, i)
        kw = {"state": state} if self.state_in_suffix else {}
        return self.model.denoise_step(
            prefix_pad_masks=pad, past_key_values=cache, x_t=x_t, timestep=timestep, **kw
        )

    def steps(self) -> int:
        cfg = self.policy.config
        return int(cfg.num_steps if self.smolvla else cfg.num_inference_steps)


@contextlib.contextmanager
def _identity_embed_image(owner):
    """embed_prefix with the vision tower taken out: the image tokens come from the vision
    graphs, everything else (special tokens, scaling, masks, padding) is LeRobot's code."""
    owner.embed_image = lambda tokens: tokens
    try:
        yield
    finally:
        del owner.embed_image


class _Part(nn.Module):
    """Shared by the split graphs: LeRobot's normalizer steps and the state handling."""

    def __init__(self, base: LeRobotGraph, family: Family) -> None:
        super().__init__()
        self.base, self.family = base, family
        self.policy = base.policy  # registered, so the graph owns the weights

    def normalized_state(self, state: torch.Tensor) -> torch.Tensor:
        batch = self.base.normalizer._normalize_observation({OBS_STATE: state}, inverse=False)
        return self.policy.prepare_state(batch)


class VisionGraph(_Part):
    def __init__(self, base, family, camera_input: str, key: str) -> None:
        super().__init__(base, family)
        self.input, self.key = camera_input, key

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        batch = {self.key: _to_float_chw(image)}
        batch = self.base.normalizer._normalize_observation(batch, inverse=False)
        return self.family.embed(self.family.images(batch)[0])


class PrefixGraph(_Part):
    def forward(self, *args: torch.Tensor):
        n = len(self.base.cams)
        tokens, ids, mask = list(args[:n]), args[n], args[n + 1]
        state = self.normalized_state(args[n + 2]) if self.family.state_in_prefix else None
        kvs, pad = self.family.prefix(tokens, ids, mask.to(torch.bool), state)
        return (*[t for kv in kvs for t in kv], pad.to(torch.int64))


class DenoiseStepGraph(_Part):
    def forward(self, *args: torch.Tensor):
        x_t, timestep, prefix_mask, rest = args[0], args[1], args[2], args[3:]
        state = None
        if self.family.state_in_suffix:
            state, rest = self.normalized_state(rest[0]), rest[1:]
        kvs = [(rest[i], rest[i + 1]) for i in range(0, len(rest), 2)]
        return self.family.denoise(x_t, timestep, prefix_mask.to(torch.bool), kvs, state)


class ActionDecoderGraph(_Part):
    def __init__(self, base, family, low, high) -> None:
        super().__init__(base, family)
        self.register_buffer("low", torch.tensor(low, dtype=torch.float32))
        self.register_buffer("high", torch.tensor(high, dtype=torch.float32))

    def forward(self, x_t: torch.Tensor) -> torch.Tensor:
        actions = self.base.unnormalizer._normalize_action(
            x_t[..., : self.base.action_dim], inverse=True
        )
        return torch.minimum(torch.maximum(actions.to(torch.float32), self.low), self.high)


def token_name(camera_input: str) -> str:
    """'image_top' -> 'image_tokens_top'."""
    return "image_tokens_" + camera_input[len("image_") :]


def split_graphs(base: LeRobotGraph, loaded, spec) -> tuple[list[GraphSpec], dict]:
    """The four kinds of graph of a flow-matching VLM policy, and the manifest's `flow` block."""
    cfg = loaded.config
    refuse_unsupported(loaded)
    family = Family(loaded.policy)
    layers = _layers(family)
    present, past = kv_names(layers, "present."), kv_names(layers, "past_key_values.")
    state = ["state"] if spec.state_dim else []
    graphs = [
        GraphSpec(
            f"vision_encoder.{name[len('image_') :]}",
            VisionGraph(base, family, name, key),
            [name],
            [token_name(name)],
        )
        for name, key in base.cams
    ]
    prefix_in = [token_name(n) for n, _ in base.cams] + ["input_ids", "attention_mask"]
    graphs.append(
        GraphSpec(
            "prefix",
            PrefixGraph(base, family),
            prefix_in + (state if family.state_in_prefix else []),
            [*present, "prefix_mask"],
        )
    )
    suffix_state = state if family.state_in_suffix else []
    graphs.append(
        GraphSpec(
            "denoise_step",
            DenoiseStepGraph(base, family),
            ["x_t", "timestep", "prefix_mask", *suffix_state, *past],
            ["velocity"],
        )
    )
    low, high = spec.action.low, spec.action.high
    graphs.append(
        GraphSpec(
            "action_decoder", ActionDecoderGraph(base, family, low, high), ["x_t"], ["actions"]
        )
    )
    block = {
        "sampler": "flow matching, forward Euler from t=1 (noise) to t=0",
        "steps": family.steps(),
        "noise_shape": list(base.noise.shape[1:]) if base.noise is not None else None,
        "noise_file": NOISE_FILE,
        "layers": layers,
        "cameras": [n for n, _ in base.cams],
        "state_in": _state_in(family),
        "prefix_cache": "per frame: the image and language tokens attend to each other "
        "(one bidirectional block in LeRobot's attention mask), so the language keys/values "
        "change with the frame; the cache is reused by the frame's denoise steps only",
        "loop": "vla_edge.policy.flow.FlowSampler",
        "policy_type": cfg.type,
    }
    return graphs, block


NOISE_FILE = "flow_noise.npy"


def _state_in(family: Family) -> str:
    if family.state_in_prefix:
        return "prefix"
    return "suffix" if family.state_in_suffix else "prompt"


def _layers(family: Family) -> int:
    if family.smolvla:
        return int(family.owner.num_vlm_layers)
    return len(family.owner.paligemma.model.language_model.layers)


def refuse_unsupported(loaded) -> None:
    cfg = loaded.config
    empty = [k for k in cfg.image_features if k.startswith(EMPTY_CAMERA)]
    if empty or getattr(cfg, "empty_cameras", 0):
        raise AdapterError(
            f"the graph split does not support empty cameras ({empty or cfg.empty_cameras}); "
            "export it as one graph (leave out --split-graphs)"
        )
    if getattr(cfg, "use_cache", True) is False:
        raise AdapterError(
            "this checkpoint sets use_cache=False (the expert re-runs the prefix every step): "
            "there is no prefix cache to split on; export it as one graph"
        )
    rtc = getattr(cfg, "rtc_config", None)
    if rtc is not None and getattr(rtc, "enabled", False):
        raise AdapterError("real-time chunking (rtc_config.enabled) is not exported; disable it")


def example_feeds(base: LeRobotGraph, graphs: list[GraphSpec], feeds: dict) -> dict[str, dict]:
    """Tracing feeds of every graph, made by running the graph modules in order on `feeds`
    (image_*, input_ids, attention_mask, state) with the bundle's noise at t=1."""
    names = dict(feeds)
    with torch.no_grad():
        out = {}
        for g in graphs:
            if g.role == "denoise_step":
                b = feeds["input_ids"].shape[0]
                names["x_t"] = base.noise.expand(b, *base.noise.shape[1:]).contiguous()
                names["timestep"] = torch.ones(b, dtype=torch.float32)
            out[g.role] = {n: names[n] for n in g.input_names}
            if g.role == "action_decoder":
                continue
            res = g.module(*out[g.role].values())
            res = res if isinstance(res, tuple) else (res,)
            names.update(zip(g.output_names, res, strict=True))
            names.update(
                {
                    n.replace("present.", "past_key_values."): v
                    for n, v in names.items()
                    if n.startswith("present.")
                }
            )
    return out
