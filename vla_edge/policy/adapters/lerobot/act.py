"""ACT (Action Chunking Transformer): images + state -> a chunk of actions, no text, no noise
(the VAE latent is zero at inference). Exports with the legacy exporter at opset 17."""

from __future__ import annotations

from vla_edge.policy.adapters import register_adapter
from vla_edge.policy.adapters.lerobot.base import LeRobotAdapter


@register_adapter("lerobot-act")
class ActAdapter(LeRobotAdapter):
    policy_type = "act"
    exporter = "legacy"
    atol_fraction = 1e-3

    def chunk(self, policy, batch, noise):
        return policy.predict_action_chunk(batch)
