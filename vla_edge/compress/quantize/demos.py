"""Calibration frames from the demonstration format (`vla-edge sim demos`, read with
vla_edge.sim.data.DemoDataset): steps drawn evenly across episodes, so every task and every phase
of a motion is represented.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vla_edge.errors import CalibrationError, VlaEdgeError


def is_demo_set(path: Path) -> bool:
    return path.is_dir() and (path / "index.json").is_file()


def read(path: Path, limit: int, seed: int = 0):
    """A CalibrationSet of up to `limit` steps of a demonstration set, or None if `path` is
    not one. A demonstration set that cannot be read raises CalibrationError."""
    if not is_demo_set(path):
        return None
    try:
        from vla_edge.sim.data import DemoDataset
    except ImportError as exc:
        raise CalibrationError(
            f"{path} is a demonstration set but the reader (vla_edge.sim) cannot be imported: {exc}"
        ) from exc
    try:
        steps = DemoDataset(path).samples(limit, seed=seed)
    except VlaEdgeError as exc:
        raise CalibrationError(f"cannot read calibration demonstrations {path}: {exc}") from exc
    if not steps:
        raise CalibrationError(f"demonstration set {path} has no steps")
    return _stack(steps, str(path))


def _stack(steps: list, source: str):
    from vla_edge.compress.quantize.calibration import CalibrationSet

    cameras = list(steps[0][0])
    frames = {c: np.stack([s[0][c] for s in steps]) for c in cameras}
    texts = [str(s[1]) for s in steps]
    states = np.stack([np.asarray(s[2], np.float32) for s in steps])
    return CalibrationSet(frames, texts, states, source)
