"""Demonstration samples for pruning (importance, recovery) and distillation.

A sample is a dict: `frames` {camera: uint8 [H, W, 3]}, `instruction` str, `state` float32 [S]
or None, `actions` float32 [chunk, A] in physical units or None (distillation needs no actions:
the teacher labels every frame).

Sources: a demonstration dataset readable by `vla_edge.sim.data.DemoDataset`, a LeRobotDataset
v3 folder (`lerobot:PATH`, read by vla_edge.data.lerobot_dataset), or a `.npz` file
(`ArrayDemos.save`): `image_<camera>` [N, H, W, 3] uint8, `instructions` [N] str, optional
`state` [N, S] and `actions` [N, chunk, A].
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vla_edge.errors import DataError
from vla_edge.policy.spec import PolicySpec


@dataclass
class ArrayDemos:
    """N samples held in memory."""

    frames: dict[str, np.ndarray]
    instructions: list[str]
    states: np.ndarray | None = None
    actions: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.instructions)

    def __getitem__(self, i: int) -> dict:
        return {
            "frames": {k: v[i] for k, v in self.frames.items()},
            "instruction": self.instructions[i],
            "state": None if self.states is None else self.states[i],
            "actions": None if self.actions is None else self.actions[i],
        }

    def take(self, index) -> ArrayDemos:
        index = np.asarray(index)
        return ArrayDemos(
            {k: v[index] for k, v in self.frames.items()},
            [self.instructions[i] for i in index],
            None if self.states is None else self.states[index],
            None if self.actions is None else self.actions[index],
        )

    def save(self, path: str | Path) -> Path:
        arrays = {f"image_{k}": v for k, v in self.frames.items()}
        arrays["instructions"] = np.asarray(self.instructions)
        if self.states is not None:
            arrays["state"] = self.states
        if self.actions is not None:
            arrays["actions"] = self.actions
        np.savez(path, **arrays)
        return Path(path)

    @classmethod
    def load(cls, path: str | Path) -> ArrayDemos:
        try:
            data = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise DataError(f"cannot read demonstrations {path}: {exc}") from exc
        frames = {k[6:]: data[k] for k in data.files if k.startswith("image_")}
        if not frames or "instructions" not in data.files:
            raise DataError(
                f"{path} holds {data.files}; a demonstration .npz needs image_<camera> arrays "
                "and 'instructions' (optional 'state', 'actions')"
            )
        get = lambda k: data[k].astype(np.float32) if k in data.files else None  # noqa: E731
        return cls(frames, [str(s) for s in data["instructions"]], get("state"), get("actions"))


class _DatasetView:
    """Adapts a `vla_edge.sim.data.DemoDataset` (or any indexable of samples) to our dicts."""

    def __init__(self, dataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, i: int) -> dict:
        return sample_fields(self.dataset[int(i)])


def sample_fields(sample) -> dict:
    """Accept a mapping or an object with frames/images, instruction, state, actions."""
    get = sample.get if isinstance(sample, dict) else lambda k, d=None: getattr(sample, k, d)
    frames = get("frames", None)
    if frames is None:
        frames = get("images", None)
    if frames is None:
        raise DataError("demonstration samples carry no 'frames' {camera: image}")
    actions = get("actions", None)
    state = get("state", None)
    return {
        "frames": {k: np.asarray(v, dtype=np.uint8) for k, v in frames.items()},
        "instruction": str(get("instruction", "")),
        "state": None if state is None else np.asarray(state, np.float32),
        "actions": None if actions is None else np.asarray(actions, np.float32),
    }


def open_demos(path: str | Path, spec: PolicySpec | None = None):
    """A demonstration source by path (see the module docstring), checked against the spec.
    A demonstration directory is read into memory once (every shard hash-checked), with each
    step's action target made into the spec's chunk (actions t..t+chunk-1 of its episode)."""
    from vla_edge.data import lerobot_dataset as lds

    path, lerobot = lds.split_source(path)
    if lerobot or lds.is_lerobot_dataset(path):
        return _open_lerobot(path, spec)
    if not path.exists():
        raise DataError(
            f"no demonstrations at {path}: record some with `vla-edge sim demos -o {path}`"
        )
    chunk = spec.action.chunk if spec is not None else 1
    demos = ArrayDemos.load(path) if path.suffix == ".npz" else _open_sim_dataset(path, chunk)
    if len(demos) == 0:
        raise DataError(f"demonstrations {path} hold no frames")
    if spec is not None:
        check_sample(demos[0], spec, str(path))
    return demos


def _open_lerobot(path: Path, spec: PolicySpec | None) -> ArrayDemos:
    """Every frame of a LeRobotDataset v3 folder, its cameras named by LeRobot's rule; each
    frame's action target is the chunk t..t+chunk-1 of its episode (when the dataset's action
    has the policy's dimension)."""
    from vla_edge.data import lerobot_dataset as lds
    from vla_edge.train.bc import chunk_index

    if spec is None:
        raise DataError(f"reading the LeRobot dataset {path} needs the policy's spec")
    ds = lds.LeRobotDataset(path)
    _, _, frames, rows = lds.observations(ds, spec, len(ds))
    actions = None
    if rows.action is not None and rows.action.shape[1] == spec.action.dim:
        actions = rows.action[chunk_index(rows.episode, rows.index, spec.action.chunk)]
    states = rows.state if spec.state_dim else None
    return ArrayDemos(frames, rows.tasks, states, actions)


def _open_sim_dataset(path: Path, chunk: int = 1) -> ArrayDemos:
    try:
        from vla_edge.sim.data import DemoDataset
        from vla_edge.train.bc import chunk_index
    except ImportError as exc:
        raise DataError(
            f"{path} is not a .npz file and the demonstration reader (vla_edge.sim.data) is "
            "not available in this installation"
        ) from exc
    arr = _construct(DemoDataset, path).arrays()
    actions = arr["actions"].astype(np.float32)
    actions = actions[chunk_index(arr["episode"], arr["step"], chunk)]  # [N, chunk, A]
    texts = [arr["instructions"][int(e)] for e in arr["episode"]]
    return ArrayDemos(arr["frames"], texts, arr["state"].astype(np.float32), actions)


def _construct(cls, path: Path):
    try:
        return cls(path)
    except OSError as exc:
        raise DataError(f"cannot read demonstrations {path}: {exc}") from exc


def check_sample(sample: dict, spec: PolicySpec, source: str) -> None:
    """The sample's cameras and sizes match the spec."""
    names = sorted(sample["frames"])
    if names != sorted(spec.camera_names):
        raise DataError(
            f"{source}: frames are from cameras {names}, the policy takes {spec.camera_names}"
        )
    for cam in spec.cameras:
        shape = tuple(sample["frames"][cam.name].shape)
        if shape != (cam.height, cam.width, 3):
            raise DataError(
                f"{source}: camera {cam.name!r} frames are {list(shape)}, the policy takes "
                f"{[cam.height, cam.width, 3]}; record demonstrations at the policy's image size"
            )
