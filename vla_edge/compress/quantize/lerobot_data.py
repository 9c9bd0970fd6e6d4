"""Calibration frames from a LeRobotDataset v3 folder (`--calib lerobot:PATH`, or a folder with
meta/info.json): frames spread evenly over the dataset, its camera features mapped onto the
policy's cameras (a LeRobot bundle's recorded mapping, else LeRobot's naming rule), its
`observation.state` and `task` as state and instruction. Read without lerobot
(vla_edge.data.lerobot_dataset)."""

from __future__ import annotations

from pathlib import Path

from vla_edge.errors import CalibrationError, DataError


def read(source: str | Path, spec, limit: int, cameras: dict[str, str] | None = None):
    """A CalibrationSet of up to `limit` frames, or None if `source` is neither `lerobot:PATH`
    nor a folder with meta/info.json. A dataset that does not fit the policy raises
    CalibrationError saying what was expected and found."""
    from vla_edge.compress.quantize.calibration import CalibrationSet
    from vla_edge.data import lerobot_dataset as lds

    path, forced = lds.split_source(source)
    if not forced and not lds.is_lerobot_dataset(path):
        return None
    try:
        ds, keys, frames, rows = lds.observations(path, spec, limit, cameras)
    except DataError as exc:
        raise CalibrationError(f"--calib {source}: {exc}") from None
    states = rows.state if spec.state_dim else None
    data = CalibrationSet(frames, rows.tasks, states, f"{lds.PREFIX}{path}", ids=rows.index)
    data.dataset = {**ds.describe(), "cameras": keys}
    return data
