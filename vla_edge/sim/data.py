"""Demonstrations on disk, read by training, INT8 calibration and distillation.

Format (a directory):

    index.json                       {"format": "vla-edge-demos", "version": 1, "suite",
                                      "cameras": [names] (and "camera": the first), "image_size",
                                      "state": "full" | "proprio", "state_dim", "action": {names,
                                      units, low, high}, "episodes": [{"file", "task",
                                      "instruction", "seed", "length", "sha256"}, ...]}
    episodes/<task>-<seed>.npz       frames_<camera> uint8 [T, H, W, 3] for every camera,
                                      state float32 [T, S], actions float32 [T, A] (step t:
                                      observation -> action); on "proprio" sets also privileged
                                      float32 [T, 21] (what the expert saw: objects and goal)

Sets written before "cameras" existed have only "camera" and read the same way.

One episode per shard; each shard is written atomically and hashed into the index, so an
interrupted run resumes where it stopped and a corrupted shard is reported by name.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vla_edge.errors import DataError

FORMAT, VERSION = "vla-edge-demos", 1


@dataclass
class Episode:
    file: str
    task: str
    instruction: str
    seed: int
    length: int
    sha256: str


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _check_demo_dir(root: Path) -> None:
    """A demo set is written into a new or empty directory, or resumed in one that holds a demo
    set (index.json); never into a file or a directory of other things."""
    from vla_edge.outputs import describe

    if root.exists() and not root.is_dir():
        raise DataError(
            f"{root} exists and is a file: --output must name a directory for the demonstrations"
        )
    started = {"episodes"}  # what a first run leaves before its index.json
    if (
        root.is_dir()
        and not (root / "index.json").is_file()
        and {e.name for e in root.iterdir()} - started
    ):
        raise DataError(
            f"{root} holds {describe(root)}: not a demonstration set (no index.json), so vla-edge "
            "will not write into it; choose a new --output (an existing set is resumed)"
        )


class DemoWriter:
    """Append episodes to a demo directory (creating or resuming it)."""

    def __init__(self, root: str | Path, header: dict) -> None:
        self.root = Path(root)
        index = self.root / "index.json"
        _check_demo_dir(self.root)
        (self.root / "episodes").mkdir(parents=True, exist_ok=True)
        if index.exists():
            self.index = _read_index(self.root)
            self.index.setdefault("cameras", [self.index["camera"]])
            for key in ("suite", "cameras", "image_size"):
                if self.index.get(key) != header.get(key):
                    raise DataError(
                        f"{self.root} holds demos with {key}={self.index.get(key)!r}, asked for "
                        f"{header.get(key)!r}: use another --output to start a new set"
                    )
        else:
            self.index = {"format": FORMAT, "version": VERSION, **header, "episodes": []}
        self.done = {(e["task"], e["seed"]) for e in self.index["episodes"]}

    def has(self, task: str, seed: int) -> bool:
        return (task, seed) in self.done

    def add(
        self,
        task: str,
        instruction: str,
        seed: int,
        frames: dict[str, np.ndarray],
        state: np.ndarray,
        actions: np.ndarray,
        extra: dict[str, np.ndarray] | None = None,
    ) -> None:
        rel = f"episodes/{task}-{seed:06d}.npz"
        arrays = {**(extra or {}), **{f"frames_{k}": v for k, v in frames.items()}}
        fd, tmp = tempfile.mkstemp(dir=self.root / "episodes", suffix=".npz.tmp")
        with os.fdopen(fd, "wb") as fh:
            np.savez(
                fh, state=state.astype(np.float32), actions=actions.astype(np.float32), **arrays
            )
        os.replace(tmp, self.root / rel)
        self.index["episodes"].append(
            dict(
                file=rel,
                task=task,
                instruction=instruction,
                seed=seed,
                length=len(actions),
                sha256=_sha(self.root / rel),
            )
        )
        self.done.add((task, seed))
        self._write_index()

    def _write_index(self) -> None:
        fd, tmp = tempfile.mkstemp(dir=self.root, suffix=".json.tmp")
        with os.fdopen(fd, "w") as fh:
            json.dump(self.index, fh, indent=1)
        os.replace(tmp, self.root / "index.json")


def _read_index(root: Path) -> dict:
    path = root / "index.json"
    if not path.is_file():
        raise DataError(
            f"{root} is not a demonstration set (no index.json): make one with "
            "`vla-edge sim demos --suite mt10 --episodes 20 -o DATA`"
        )
    try:
        index = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise DataError(f"{path} is not valid JSON: {exc}") from exc
    if index.get("format") != FORMAT or index.get("version") != VERSION:
        raise DataError(f"{path} is not a {FORMAT} v{VERSION} index")
    return index


class DemoDataset:
    """Read a demo directory; every shard is hash-checked when loaded.

    `len(ds)` is the number of steps and `ds[i]` one step as a dict: `frames` {camera: uint8
    [H, W, 3]} for every camera, `instruction`, `state` float32 [S], `actions` float32 [A],
    `task`, `episode` (INT8 calibration and distillation read it this way); `ds.episodes`
    lists the episodes and `ds.arrays()` concatenates everything for training."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.index = _read_index(self.root)
        self.episodes = [Episode(**e) for e in self.index["episodes"]]
        if not self.episodes:
            raise DataError(f"{self.root} holds no episodes")
        self.cameras = list(self.index.get("cameras") or [self.index["camera"]])
        self.camera = self.cameras[0]
        self._ends = np.cumsum([e.length for e in self.episodes])
        self._cached: tuple[int, dict] | None = None

    def __len__(self) -> int:
        return int(self._ends[-1])

    def __getitem__(self, i: int) -> dict:
        if not -len(self) <= i < len(self):
            raise IndexError(f"step {i} out of range for {len(self)} steps")
        i = i % len(self)
        k = int(np.searchsorted(self._ends, i, side="right"))
        if self._cached is None or self._cached[0] != k:
            self._cached = (k, self.load(self.episodes[k]))
        d, t = self._cached[1], i - (int(self._ends[k - 1]) if k else 0)
        ep = self.episodes[k]
        return {
            "frames": {c: d[f"frames_{c}"][t] for c in self.cameras},
            "instruction": ep.instruction,
            "state": d["state"][t],
            "actions": d["actions"][t],
            "task": ep.task,
            "episode": k,
        }

    def spec(self, chunk: int = 1, representation: str = "continuous"):
        """The suite's PolicySpec for this data (without normalization statistics)."""
        from vla_edge.sim.env import suite_spec

        return suite_spec(self.index["suite"], chunk, representation, self.index["image_size"])

    @property
    def tasks(self) -> list[str]:
        return sorted({e.task for e in self.episodes})

    def load(self, ep: Episode) -> dict[str, np.ndarray]:
        path = self.root / ep.file
        if not path.is_file():
            raise DataError(f"demo shard {ep.file} is missing from {self.root}")
        if _sha(path) != ep.sha256:
            raise DataError(
                f"demo shard {ep.file} is corrupted (sha256 differs from index.json); "
                "delete it and re-run `vla-edge sim demos` to regenerate it"
            )
        try:
            with np.load(path, allow_pickle=False) as z:
                data = {k: z[k] for k in z.files}
        except (OSError, ValueError) as exc:
            raise DataError(f"demo shard {ep.file} cannot be read: {exc}") from exc
        if len(data["actions"]) != ep.length:
            raise DataError(
                f"demo shard {ep.file} has {len(data['actions'])} steps, index says {ep.length}"
            )
        return data

    def arrays(self) -> dict:
        """All episodes concatenated: frames {camera: [N, H, W, 3]}, state [N, S],
        actions [N, A], episode id [N], step [N], instructions (per episode)."""
        frames: dict[str, list] = {c: [] for c in self.cameras}
        state, actions, ep_id, step = [], [], [], []
        for i, ep in enumerate(self.episodes):
            d = self.load(ep)
            for c in self.cameras:
                frames[c].append(d[f"frames_{c}"])
            state.append(d["state"])
            actions.append(d["actions"])
            ep_id.append(np.full(ep.length, i, np.int64))
            step.append(np.arange(ep.length))
        return {
            "frames": {c: np.concatenate(f) for c, f in frames.items()},
            "state": np.concatenate(state),
            "actions": np.concatenate(actions),
            "episode": np.concatenate(ep_id),
            "step": np.concatenate(step),
            "instructions": [e.instruction for e in self.episodes],
        }

    def samples(self, n: int, seed: int = 0):
        """Up to n (frames, instruction, state, action) steps drawn evenly across episodes:
        for calibration and held-out checks."""
        rng = np.random.default_rng(seed)
        per = max(1, n // len(self.episodes) + 1)
        out = []
        for ep in rng.permutation(len(self.episodes)):
            e = self.episodes[int(ep)]
            d = self.load(e)
            for t in rng.choice(e.length, size=min(per, e.length), replace=False):
                out.append(
                    (
                        {c: d[f"frames_{c}"][t] for c in self.cameras},
                        e.instruction,
                        d["state"][t],
                        d["actions"][t],
                    )
                )
                if len(out) >= n:
                    return out
        return out
