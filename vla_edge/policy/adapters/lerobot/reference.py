"""LeRobot's own pipeline as the parity reference: raw observation -> preprocessor -> policy
-> postprocessor, on the same uint8 frames, instructions, states and noise as the bundle."""

from __future__ import annotations

import numpy as np

from vla_edge.policy.adapters.lerobot.base import OBS_STATE, LeRobotAdapter, LeRobotGraph
from vla_edge.policy.adapters.lerobot.checkpoint import Loaded


def lerobot_actions(
    adapter: LeRobotAdapter, loaded: Loaded, graph: LeRobotGraph, feeds: dict, texts: list[str]
) -> np.ndarray:
    """[B, T, A] actions in dataset units, one observation at a time as a robot would."""
    import torch

    batch = len(texts)
    out = []
    for i in range(batch):
        obs = {
            key: torch.from_numpy(np.ascontiguousarray(feeds[name][i])).permute(2, 0, 1).float()
            / 255.0
            for name, key in graph.cams
        }
        if "state" in feeds:
            obs[OBS_STATE] = torch.from_numpy(np.ascontiguousarray(feeds["state"][i]))
        obs["task"] = texts[i]
        with torch.no_grad():
            processed = loaded.pre(obs)
            loaded.policy.reset()
            noise = graph.noise if graph.noise is not None else None
            actions = adapter.reference_chunk(loaded.policy, processed, noise)[
                ..., : graph.action_dim
            ]
            actions = loaded.post(actions)
        out.append(actions[0].detach().cpu().numpy().astype(np.float32))
    return np.stack(out)
