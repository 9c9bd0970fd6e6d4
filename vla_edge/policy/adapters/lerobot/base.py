"""The LeRobot adapter base: a declarative class per policy type (see act.py, diffusion.py,
smolvla.py, pi0.py) that says how to build the spec, the graph module and LeRobot's own
reference for a loaded checkpoint.

The graph module copies LeRobot's conventions exactly: uint8 NHWC frames -> float CHW in [0, 1]
(`/255`), each feature normalized by LeRobot's own normalizer step (its modes and epsilon),
language tokens + a boolean mask, the policy's `predict_action_chunk` (resize-with-pad and
state padding happen inside it), LeRobot's unnormalizer, then the clamp to the dataset's
limits. The sampler's noise is a fixed buffer, so ONNX and LeRobot see the same sample.
"""

from __future__ import annotations

import torch
from torch import nn

from vla_edge.data.lerobot_dataset import camera_name  # the rule datasets are read with too
from vla_edge.errors import AdapterError
from vla_edge.policy.adapters.lerobot.checkpoint import Loaded
from vla_edge.policy.spec import ActionSpace, CameraSpec, InstructionSpec, Normalization, PolicySpec

OBS_IMAGES, OBS_STATE, ACTION = "observation.images.", "observation.state", "action"
EMPTY_CAMERA = OBS_IMAGES + "empty_camera_"
TOKENS, MASK = "observation.language.tokens", "observation.language.attention_mask"


class LeRobotAdapter:
    """Declarative: subclasses set the class attributes and, where needed, `chunk`/`check`."""

    name = ""  # set by @register_adapter
    policy_type = ""  # config.json "type"
    exporter = "legacy"
    opset: int | None = None  # None: the exporter's default
    atol_fraction = 1e-3  # parity tolerance, fraction of each action dimension's range
    takes_text = False
    representation = "continuous"
    noise = False  # the sampler draws noise: exported as a fixed buffer
    text_suffix = "\n"  # LeRobot's NewLineTaskProcessorStep

    # --- what a subclass may override ------------------------------------------------------------
    def check(self, loaded: Loaded) -> list[str]:
        """Refuse unsupported settings (AdapterError) or convert them; returns what was changed
        and why, recorded in the bundle."""
        return []

    def chunk_lengths(self, cfg) -> tuple[int, int]:
        """(actions the graph returns, n_action_steps the runtime executes of them)."""
        return cfg.chunk_size, cfg.n_action_steps

    def noise_shape(self, cfg) -> tuple[int, ...]:
        return (1, cfg.chunk_size, cfg.max_action_dim)

    def chunk(self, policy, batch: dict, noise: torch.Tensor | None) -> torch.Tensor:
        """Normalized action chunk [B, T, A] of the LeRobot policy (its own method)."""
        return policy.predict_action_chunk(batch, noise=noise)

    def reference_chunk(self, policy, batch: dict, noise: torch.Tensor | None) -> torch.Tensor:
        """LeRobot's own call for the parity reference (default: the same method)."""
        return self.chunk(policy, batch, noise)

    # --- shared ---------------------------------------------------------------------------------
    def cameras(self, cfg) -> list[tuple[CameraSpec, str]]:
        """(camera spec, LeRobot feature key) per image feature; names made valid, recorded."""
        out, seen = [], {}
        for key, feat in cfg.image_features.items():
            if key.startswith(EMPTY_CAMERA):
                continue  # pi0's `empty_cameras`: LeRobot feeds them itself (all -1, masked)
            name = camera_name(key)
            if name in seen:
                raise AdapterError(f"cameras {seen[name]!r} and {key!r} both map to {name!r}")
            seen[name] = key
            _, h, w = feat.shape
            out.append((CameraSpec(name, int(h), int(w)), key))
        if not out:
            raise AdapterError(f"{self.policy_type} checkpoint has no image features")
        return out

    def spec(self, loaded: Loaded, tokenizer_max: int | None = None) -> PolicySpec:
        cfg = loaded.config
        chunk, steps = self.chunk_lengths(cfg)
        low, high, _ = action_limits(loaded)
        dim = len(low)
        state = cfg.robot_state_feature
        instruction = (
            InstructionSpec(
                max_tokens=tokenizer_max or cfg.tokenizer_max_length,
                tokenizer="bundle",
                suffix=self.text_suffix,
            )
            if self.takes_text
            else InstructionSpec()
        )
        return PolicySpec(
            cameras=[c for c, _ in self.cameras(cfg)],
            action=ActionSpace(
                names=[f"a{i}" for i in range(dim)],
                units=["dataset"] * dim,
                low=low,
                high=high,
                chunk=chunk,
                representation=self.representation,
                n_action_steps=steps,
                ensemble_coeff=getattr(cfg, "temporal_ensemble_coeff", None),
            ),
            state_dim=int(state.shape[0]) if state is not None else 0,
            instruction=instruction,
            normalization=_state_stats(loaded),
        )

    def module(self, loaded: Loaded, spec: PolicySpec) -> nn.Module:
        noise = None
        if self.noise:
            gen = torch.Generator().manual_seed(0)
            noise = torch.randn(self.noise_shape(loaded.config), generator=gen)
        return LeRobotGraph(self, loaded, spec, noise)


def action_limits(loaded: Loaded) -> tuple[list[float], list[float], str]:
    """Action limits in dataset units from the normalizer's statistics: min/max, else the
    1st/99th percentiles, else mean +- 4 std."""
    stats = _stats(loaded).get(ACTION, {})
    for lo, hi, how in (("min", "max", "min/max"), ("q01", "q99", "q01/q99")):
        if lo in stats and hi in stats:
            return _limits(stats[lo].flatten(), stats[hi].flatten(), how)
    if "mean" not in stats:
        raise AdapterError("the checkpoint's normalizer has no action statistics")
    mean, std = stats["mean"].flatten(), stats["std"].flatten()
    return _limits(mean - 4 * std, mean + 4 * std, "mean +- 4 std")


def _limits(low, high, how: str) -> tuple[list[float], list[float], str]:
    high = torch.maximum(high, low + 1e-6)  # a constant dimension still needs low < high
    return low.tolist(), high.tolist(), how


def _stats(loaded: Loaded) -> dict:
    step = loaded.step("pre", "NormalizerProcessorStep")
    return dict(getattr(step, "_tensor_stats", {}) or {})


def _state_stats(loaded: Loaded) -> Normalization:
    st = _stats(loaded).get(OBS_STATE, {})
    if "mean" not in st or "std" not in st:
        return Normalization()
    std = torch.clamp(st["std"].flatten(), min=1e-6)
    return Normalization(state_mean=st["mean"].flatten().tolist(), state_std=std.tolist())


class LeRobotGraph(nn.Module):
    """Graph inputs by vla-edge name -> actions [B, T, A] in dataset units (clamped later by
    the generic graph)."""

    def __init__(self, adapter: LeRobotAdapter, loaded: Loaded, spec: PolicySpec, noise) -> None:
        super().__init__()
        self.adapter, self.policy = adapter, loaded.policy
        self.normalizer = loaded.step("pre", "NormalizerProcessorStep")
        self.unnormalizer = loaded.step("post", "UnnormalizerProcessorStep")
        if self.normalizer is None or self.unnormalizer is None:
            raise AdapterError("the checkpoint's processors have no normalizer/unnormalizer step")
        self.cams = [(c.input_name, key) for c, key in adapter.cameras(loaded.config)]
        self.action_dim = spec.action.dim
        names = [n for n, _ in self.cams]
        if adapter.takes_text:
            names += ["input_ids", "attention_mask"]
        self.graph_inputs = names + (["state"] if spec.state_dim else [])
        if noise is not None:
            self.register_buffer("noise", noise)
        else:
            self.noise = None

    def forward(self, **feeds: torch.Tensor) -> torch.Tensor:
        batch = {key: _to_float_chw(feeds[name]) for name, key in self.cams}
        if "state" in feeds:
            batch[OBS_STATE] = feeds["state"]
        batch = self.normalizer._normalize_observation(batch, inverse=False)
        if "input_ids" in feeds:
            batch[TOKENS] = feeds["input_ids"]
            batch[MASK] = feeds["attention_mask"].to(torch.bool)
        first = next(iter(feeds.values()))
        noise = None
        if self.noise is not None:
            noise = self.noise.expand(first.shape[0], *self.noise.shape[1:])
        actions = self.adapter.chunk(self.policy, batch, noise)[..., : self.action_dim]
        return self.unnormalizer._normalize_action(actions, inverse=True)


def _to_float_chw(image: torch.Tensor) -> torch.Tensor:
    # cast before the transpose: TensorRT 10.3 transposes no UINT8 tensor
    return image.to(torch.float32).permute(0, 3, 1, 2) / 255.0
