"""Calibration frames from the demonstration format (vla_edge.sim.data.DemoDataset).

The sim package is optional: when it is absent, or the path is not a demonstration dataset,
`read` returns None and the other calibration readers are tried.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vla_edge.errors import CalibrationError, VlaEdgeError
from vla_edge.policy.spec import PolicySpec


def read(path: Path, spec: PolicySpec, limit: int):
    """A CalibrationSet of up to `limit` observations spread over the episodes, or None."""
    try:
        from vla_edge.sim.data import DemoDataset
    except ImportError:
        return None
    try:
        dataset = DemoDataset(path)
    except (VlaEdgeError, OSError, ValueError):
        return None  # not a demonstration dataset: let the other readers try
    samples = _samples(dataset, limit)
    if not samples:
        raise CalibrationError(f"demonstration dataset {path} has no frames")
    return _stack(samples, spec, str(path))


def _samples(dataset, limit: int) -> list:
    n = len(dataset)
    if n == 0:
        return []
    index = np.unique(np.linspace(0, n - 1, min(limit, n)).round().astype(int))
    return [dataset[int(i)] for i in index]


def _stack(samples: list, spec: PolicySpec, source: str):
    from vla_edge.compress.quantize.calibration import CalibrationSet

    first = _fields(samples[0])
    frames = {
        name: np.stack([_fields(s)["frames"][name] for s in samples]) for name in first["frames"]
    }
    texts = [_fields(s)["instruction"] for s in samples]
    states = None
    if spec.state_dim and first["state"] is not None:
        states = np.stack([_fields(s)["state"] for s in samples]).astype(np.float32)
    return CalibrationSet(frames, texts, states, source)


def _fields(sample) -> dict:
    """Accept a mapping or an object with frames/images, instruction and state."""
    get = sample.get if isinstance(sample, dict) else lambda k, d=None: getattr(sample, k, d)
    frames = get("frames", None)
    if frames is None:
        frames = get("images", None)
    if frames is None:
        raise CalibrationError("demonstration samples carry no 'frames' {camera: image}")
    return {"frames": frames, "instruction": str(get("instruction", "")), "state": get("state")}
