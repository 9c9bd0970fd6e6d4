"""Tiny LeRobotDataset v3 folders written with LeRobot's own API (LeRobotDataset.create,
add_frame, save_episode, finalize; PyAV video backend), for the tiny checkpoints of tiny.py."""

from __future__ import annotations

import numpy as np

from tests.lerobot import tiny

H, W = 24, 32  # tiny.py's image size


def write_dataset(
    root,
    cameras=tiny.CAMERAS,
    state_dim=tiny.STATE_DIM,
    episodes=3,
    length=10,
    smooth=False,
    hw=(H, W),
):
    """Random frames and states, or (`smooth`) frames and states that change smoothly with
    the step and the episode (a teacher's actions on them are then a learnable function)."""
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    h, w = hw
    video = {"dtype": "video", "shape": (h, w, 3), "names": ["height", "width", "channels"]}
    features = {k: dict(video) for k in cameras}
    features["observation.state"] = {"dtype": "float32", "shape": (state_dim,), "names": None}
    features["action"] = {"dtype": "float32", "shape": (tiny.ACTION_DIM,), "names": None}
    ds = LeRobotDataset.create("local/tiny", fps=10, features=features, root=root,
                               video_backend="pyav")  # fmt: skip
    rng = np.random.default_rng(0)
    for e in range(episodes):
        for t in range(length):
            u = t / max(1, length - 1)
            if smooth:
                frame = {k: _ramp(u, (e + j) / episodes, h, w) for j, k in enumerate(cameras)}
                state = np.sin(np.arange(state_dim) + 3 * u + e).astype(np.float32)
            else:
                frame = {k: rng.integers(0, 256, (h, w, 3), np.uint8) for k in cameras}
                state = (rng.standard_normal(state_dim) + e).astype(np.float32)
            frame["observation.state"] = state
            frame["action"] = rng.standard_normal(tiny.ACTION_DIM).astype(np.float32)
            frame["task"] = ("pick the cube", "stack the cubes")[e % 2]
            ds.add_frame(frame)
        ds.save_episode(parallel_encoding=False)
    ds.finalize()
    return root


def _ramp(u: float, v: float, h: int, w: int) -> np.ndarray:
    """A horizontal grey ramp whose slope follows u and whose offset follows v."""
    row = 255 * (0.2 + 0.6 * u * np.linspace(0, 1, w) + 0.1 * v)
    return np.broadcast_to(np.clip(row, 0, 255).astype(np.uint8)[None, :, None], (h, w, 3)).copy()
