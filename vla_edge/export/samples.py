"""Sample inputs for export tracing and parity checks when no recorded data is given."""

from __future__ import annotations

import numpy as np

from vla_edge.policy.spec import PolicySpec

INSTRUCTIONS = [
    "pick up the red block",
    "open the drawer",
    "push the button",
    "put the cup on the plate",
    "close the window",
    "reach the goal",
]


def sample_feeds(
    spec: PolicySpec, tokenizer, batch: int = 2, seed: int = 0
) -> dict[str, np.ndarray]:
    """Random uint8 frames, varied instructions and plausible states, by graph input name."""
    rng = np.random.default_rng(seed)
    feeds: dict[str, np.ndarray] = {}
    for cam in spec.cameras:
        feeds[cam.input_name] = rng.integers(0, 256, (batch, cam.height, cam.width, 3), np.uint8)
    texts = [INSTRUCTIONS[(seed + i) % len(INSTRUCTIONS)] for i in range(batch)]
    feeds["input_ids"], feeds["attention_mask"] = tokenizer(texts)
    if spec.state_dim:
        norm = spec.normalization
        mean = np.asarray(norm.state_mean or np.zeros(spec.state_dim), np.float32)
        std = np.asarray(norm.state_std or np.ones(spec.state_dim), np.float32)
        feeds["state"] = (mean + std * rng.standard_normal((batch, spec.state_dim))).astype(
            np.float32
        )
    return feeds
