"""Diffusion Policy: images + state -> `n_action_steps` actions by iterative denoising.

The starting noise is a fixed buffer (the graph is deterministic). DDIM with eta = 0 draws no
further noise; DDPM draws fresh noise at every step (the ONNX graph would hold RandomNormalLike
nodes and never match), so a DDPM checkpoint is converted to DDIM over the same trained noise
schedule (betas), with the number of steps kept, and the conversion is recorded. Only
`n_obs_steps = 1` is supported: a history of frames would need a frame queue in the runtime.
"""

from __future__ import annotations

from vla_edge.errors import AdapterError
from vla_edge.policy.adapters import register_adapter
from vla_edge.policy.adapters.lerobot.base import LeRobotAdapter

OBS_IMAGES = "observation.images"


@register_adapter("lerobot-diffusion")
class DiffusionAdapter(LeRobotAdapter):
    policy_type = "diffusion"
    exporter = "legacy"
    atol_fraction = 2e-3  # several denoising steps accumulate float error
    noise = True

    def check(self, loaded) -> list[str]:
        cfg = loaded.config
        if cfg.n_obs_steps != 1:
            raise AdapterError(
                f"Diffusion Policy with n_obs_steps={cfg.n_obs_steps} is not supported: the "
                "graph would need a queue of past frames; retrain with n_obs_steps=1"
            )
        if cfg.noise_scheduler_type == "DDIM":
            return []
        return [_to_ddim(loaded)]

    def chunk(self, policy, batch, noise):
        """What select_action's queues hand generate_actions, for one observation step."""
        import torch

        cfg = policy.config
        obs = {k: v[:, None] for k, v in batch.items() if k in policy._queues}
        if cfg.image_features:
            obs[OBS_IMAGES] = torch.stack([batch[k] for k in cfg.image_features], dim=1)[:, None]
        return policy.diffusion.generate_actions(obs, noise=noise)

    def reference_chunk(self, policy, batch, noise):
        """LeRobot's robot path: select_action, n_action_steps times, from one observation."""
        import torch

        steps = [policy.select_action(dict(batch), noise=noise)]
        steps += [
            policy.select_action(dict(batch)) for _ in range(policy.config.n_action_steps - 1)
        ]
        return torch.stack(steps, dim=1)

    def chunk_lengths(self, cfg) -> tuple[int, int]:
        return cfg.n_action_steps, cfg.n_action_steps  # predict_action_chunk returns these

    def noise_shape(self, cfg) -> tuple[int, ...]:
        return (1, cfg.horizon, cfg.action_feature.shape[0])


def _to_ddim(loaded) -> str:
    from diffusers.schedulers.scheduling_ddim import DDIMScheduler

    model = loaded.policy.diffusion
    old = model.noise_scheduler
    model.noise_scheduler = DDIMScheduler.from_config(old.config)
    loaded.config.noise_scheduler_type = "DDIM"
    steps = model.num_inference_steps
    return (
        f"DDPM -> DDIM (eta 0, same {old.config.num_train_timesteps}-step trained schedule, "
        f"{steps} inference steps): DDPM samples fresh noise at every step, which an ONNX graph "
        "cannot reproduce; DDIM is deterministic given the starting noise"
    )
