"""A synthetic demonstration set in the real on-disk format (no simulator needed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vla_edge.sim.data import DemoWriter
from vla_edge.sim.demos import demo_header
from vla_edge.sim.suites import get_suite

TASKS = {"drawer-close-v3": "close the drawer", "window-close-v3": "close the window"}


def write_synthetic_demos(
    root: Path, episodes: int = 2, length: int = 12, size: int = 64, suite: str = "mt3-smoke"
) -> Path:
    """Episodes whose action is a fixed function of the state, so a model can learn it."""
    s = get_suite(suite)
    writer = DemoWriter(root, demo_header(suite, list(s.cameras), size))
    rng = np.random.default_rng(0)
    for ti, (task, text) in enumerate(TASKS.items()):
        for seed in range(episodes):
            state = rng.normal(size=(length, s.state_dim)).astype(np.float32)
            actions = np.tanh(state[:, :4] + ti).astype(np.float32)
            frames = {
                c: rng.integers(0, 255, (length, size, size, 3), dtype=np.uint8) for c in s.cameras
            }
            writer.add(task, text, seed, frames, state, actions)
    return root
