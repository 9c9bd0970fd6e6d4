"""Tiny LeRobot checkpoints built offline with LeRobot's own classes (random weights), saved as
a `pretrained_model/` folder exactly as `lerobot-train` writes one: config.json,
model.safetensors and the processor JSON + normalizer safetensors. Runs under the Python 3.12
LeRobot venv only."""

from __future__ import annotations

from pathlib import Path

import torch

ACTION_DIM, STATE_DIM = 6, 6
CAMERAS = ("observation.images.top", "observation.images.wrist.left")


def _features(image_hw=(48, 64), cameras=CAMERAS, state=True):
    from lerobot.configs.types import FeatureType, PolicyFeature

    inputs = {k: PolicyFeature(FeatureType.VISUAL, (3, *image_hw)) for k in cameras}
    if state:
        inputs["observation.state"] = PolicyFeature(FeatureType.STATE, (STATE_DIM,))
    outputs = {"action": PolicyFeature(FeatureType.ACTION, (ACTION_DIM,))}
    return inputs, outputs


def dataset_stats(cameras=CAMERAS, seed=0) -> dict[str, dict[str, torch.Tensor]]:
    """Statistics as LeRobotDataset computes them (mean/std/min/max/q01/q99 per feature)."""
    g = torch.Generator().manual_seed(seed)
    stats = {}
    for key, n in (("observation.state", STATE_DIM), ("action", ACTION_DIM)):
        mean = torch.randn(n, generator=g)
        std = 0.5 + torch.rand(n, generator=g)
        stats[key] = {
            "mean": mean,
            "std": std,
            "min": mean - 3 * std,
            "max": mean + 3 * std,
            "q01": mean - 2.3 * std,
            "q99": mean + 2.3 * std,
        }
    for key in cameras:
        stats[key] = {
            "mean": torch.full((3, 1, 1), 0.45),
            "std": torch.full((3, 1, 1), 0.25),
            "min": torch.zeros(3, 1, 1),
            "max": torch.ones(3, 1, 1),
        }
    return stats


def save(policy, cfg, out: Path, stats) -> Path:
    from lerobot.policies.factory import make_pre_post_processors

    out.mkdir(parents=True, exist_ok=True)
    policy.save_pretrained(out)
    pre, post = make_pre_post_processors(cfg, dataset_stats=stats)
    pre.save_pretrained(out)
    post.save_pretrained(out)
    return out


def act(out: Path, seed: int = 0, **overrides) -> Path:
    from lerobot.policies.act.configuration_act import ACTConfig
    from lerobot.policies.act.modeling_act import ACTPolicy

    torch.manual_seed(seed)
    inputs, outputs = _features()
    cfg = ACTConfig(
        input_features=inputs,
        output_features=outputs,
        chunk_size=10,
        n_action_steps=5,
        dim_model=32,
        n_heads=2,
        dim_feedforward=64,
        n_encoder_layers=1,
        n_decoder_layers=1,
        n_vae_encoder_layers=1,
        latent_dim=8,
        pretrained_backbone_weights=None,
        device="cpu",
        **overrides,
    )
    return save(ACTPolicy(cfg).eval(), cfg, out, dataset_stats())


def diffusion(out: Path, seed: int = 0, **overrides) -> Path:
    from lerobot.policies.diffusion.configuration_diffusion import DiffusionConfig
    from lerobot.policies.diffusion.modeling_diffusion import DiffusionPolicy

    torch.manual_seed(seed)
    inputs, outputs = _features(image_hw=(64, 64), cameras=CAMERAS[:1])
    kw = dict(
        input_features=inputs,
        output_features=outputs,
        n_obs_steps=1,
        horizon=8,
        n_action_steps=4,
        down_dims=(16, 32),
        kernel_size=3,
        n_groups=4,
        diffusion_step_embed_dim=16,
        spatial_softmax_num_keypoints=8,
        crop_shape=None,
        pretrained_backbone_weights=None,
        use_group_norm=True,
        noise_scheduler_type="DDIM",
        num_train_timesteps=20,
        num_inference_steps=5,
        device="cpu",
    )
    kw.update(overrides)
    cfg = DiffusionConfig(**kw)
    stats = dataset_stats(cameras=CAMERAS[:1])
    return save(DiffusionPolicy(cfg).eval(), cfg, out, stats)
