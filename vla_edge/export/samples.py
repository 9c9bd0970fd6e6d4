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


SAMPLES_FILE = "samples/validation.npz"
PARITY_SAMPLES = 32  # the fewest observations an export's parity check runs on


def observations(spec: PolicySpec, n: int, data=None, seed: int = 1) -> tuple[dict, dict]:
    """`n` observations for parity and validation: real frames from `data` (a demonstration
    set, an image folder or a .npz, as `--calib` reads them) when given, topped up with random
    ones. Returns ({"image_<cam>": [N,H,W,3], "instructions": [N], "state": [N,S]}, info)."""
    from vla_edge.compress.quantize.calibration import CalibrationSet, load_calibration

    real = load_calibration(data, spec, n, seed) if data is not None else None
    k = 0 if real is None else min(len(real), n)
    parts = [real.take(np.arange(k))] if k else []
    if k < n:
        parts.append(CalibrationSet.random(spec, n - k, seed))
    obs = {c.input_name: np.concatenate([p.frames[c.name] for p in parts]) for c in spec.cameras}
    obs["instructions"] = np.asarray([t for p in parts for t in p.instructions], dtype=str)
    if spec.state_dim:
        obs["state"] = np.concatenate([p.states for p in parts]).astype(np.float32)
    info = {"samples": n, "real_frames": k, "source": str(data) if k else "random"}
    return obs, info


def feeds_of(obs: dict[str, np.ndarray], spec: PolicySpec, tokenizer) -> dict[str, np.ndarray]:
    """Graph inputs (image_<cam>, input_ids, attention_mask, state) of recorded observations."""
    feeds = {c.input_name: np.ascontiguousarray(obs[c.input_name]) for c in spec.cameras}
    feeds["input_ids"], feeds["attention_mask"] = tokenizer([str(t) for t in obs["instructions"]])
    if spec.state_dim:
        feeds["state"] = np.asarray(obs["state"], np.float32)
    return feeds


def save_observations(path, obs: dict[str, np.ndarray], actions: np.ndarray) -> None:
    """Write the observations and the FP32 graph's actions on them (what `vla-edge validate`
    compares an engine with when no FP32 parent or demonstrations are at hand)."""
    from pathlib import Path

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, **obs, actions_fp32=actions)


def load_observations(path) -> tuple[dict[str, np.ndarray], np.ndarray]:
    with np.load(path, allow_pickle=False) as data:
        obs = {k: data[k] for k in data.files if k != "actions_fp32"}
        return obs, data["actions_fp32"]
