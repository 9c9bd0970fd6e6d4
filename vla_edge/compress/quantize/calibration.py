"""Calibration data: camera frames + instructions (+ proprio state), checked against the spec.

Sources, tried in this order:
- a LeRobotDataset v3 folder (`lerobot:PATH`, or a folder with meta/info.json; see
  vla_edge.compress.quantize.lerobot_data);
- a demonstration set (`vla-edge sim demos -o DATA`: index.json + episode shards);
- a `.npz` file with `image_<camera>` [N, H, W, 3] uint8, `instructions` [N] str, optional
  `state` [N, S];
- a directory of images: `<camera>/*.png|jpg` per camera (files paired by sorted name), or the
  images directly in it for a one-camera policy, plus `instructions.txt` (one line per frame,
  or a single line for all) and an optional `states.npy` [N, S].
Without data, random frames stand in (flagged in the report: ranges will not match a camera).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vla_edge.compress.quantize import demos, lerobot_data
from vla_edge.errors import CalibrationError
from vla_edge.export.samples import INSTRUCTIONS
from vla_edge.policy.spec import PolicySpec

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")
DIR_HELP = (
    "a calibration directory holds <camera>/ folders of images (or the images directly for a "
    "one-camera policy) and instructions.txt (one instruction per frame, or one for all)"
)


@dataclass
class CalibrationSet:
    """N observations. frames: {camera: uint8 [N, H, W, 3]}, instructions: N strings,
    states: float32 [N, S] or None; ids: where each frame came from (a LeRobot dataset's
    global frame index) or None; dataset: what the source holds (recorded), or None."""

    frames: dict[str, np.ndarray]
    instructions: list[str]
    states: np.ndarray | None
    source: str
    ids: np.ndarray | None = None
    dataset: dict | None = field(default=None, compare=False)

    def __len__(self) -> int:
        return len(self.instructions)

    def take(self, index: np.ndarray) -> CalibrationSet:
        states = None if self.states is None else self.states[index]
        return CalibrationSet(
            {k: v[index] for k, v in self.frames.items()},
            [self.instructions[i] for i in index],
            states,
            self.source,
            None if self.ids is None else self.ids[index],
            self.dataset,
        )

    def split(self, holdout: int, calib_size: int, seed: int) -> tuple[CalibrationSet, ...]:
        """(calibration, held-out) without overlap; when there is less data than asked for,
        the held-out part gets at most a quarter of it."""
        n = len(self)
        if n < 2:
            raise CalibrationError(
                f"calibration data {self.source} has {n} sample(s); at least 2 are needed (one "
                "to calibrate on, one held out to validate): record more frames"
            )
        order = np.random.default_rng(seed).permutation(n)
        n_hold = holdout if n >= holdout + calib_size else min(holdout, max(1, n // 4))
        hold, rest = order[:n_hold], order[n_hold:][:calib_size]
        return self.take(rest), self.take(hold)

    def check(self, spec: PolicySpec) -> CalibrationSet:
        """Raise CalibrationError unless every array fits the policy's spec."""
        _check_cameras(self, spec)
        n = len(self)
        if n == 0:
            raise CalibrationError(f"calibration data {self.source} is empty: it has no frames")
        for cam in spec.cameras:
            _check_frames(self.frames[cam.name], cam, n, self.source)
        self.states = _check_states(self.states, spec, n, self.source)
        return self

    @classmethod
    def random(cls, spec: PolicySpec, n: int, seed: int) -> CalibrationSet:
        rng = np.random.default_rng(seed)
        frames = {
            c.name: rng.integers(0, 256, (n, c.height, c.width, 3), np.uint8) for c in spec.cameras
        }
        texts = [INSTRUCTIONS[(seed + i) % len(INSTRUCTIONS)] for i in range(n)]
        return cls(frames, texts, _random_states(spec, n, rng), "random").check(spec)


def _random_states(spec: PolicySpec, n: int, rng) -> np.ndarray | None:
    if not spec.state_dim:
        return None
    norm = spec.normalization
    mean = np.asarray(norm.state_mean or np.zeros(spec.state_dim), np.float32)
    std = np.asarray(norm.state_std or np.ones(spec.state_dim), np.float32)
    return (mean + std * rng.standard_normal((n, spec.state_dim))).astype(np.float32)


def _check_cameras(data: CalibrationSet, spec: PolicySpec) -> None:
    names = spec.camera_names
    missing = sorted(set(names) - set(data.frames))
    unknown = sorted(set(data.frames) - set(names))
    if missing or unknown:
        raise CalibrationError(
            f"calibration data {data.source} has cameras {sorted(data.frames)} but the policy "
            f"takes {names} (missing {missing}, unknown {unknown}): name the image folders (or "
            "npz keys image_<camera>) after the policy's cameras"
        )


def _check_frames(frames: np.ndarray, cam, n: int, source: str) -> None:
    want = (cam.height, cam.width, 3)
    if frames.ndim != 4 or tuple(frames.shape[1:]) != want:
        raise CalibrationError(
            f"calibration frames for camera {cam.name!r} in {source} have shape "
            f"{list(frames.shape[1:]) if frames.ndim == 4 else list(frames.shape)}; the policy "
            f"takes {list(want)} (H, W, RGB): resize the images to {cam.width}x{cam.height}"
        )
    if frames.dtype != np.uint8:
        raise CalibrationError(
            f"calibration frames for camera {cam.name!r} are {frames.dtype}; expected uint8 RGB "
            "0-255"
        )
    if frames.shape[0] != n:
        raise CalibrationError(
            f"camera {cam.name!r} has {frames.shape[0]} frames but there are {n} instructions "
            f"in {source}: give one instruction per frame (or a single one for all)"
        )


def _check_states(states, spec: PolicySpec, n: int, source: str) -> np.ndarray | None:
    if not spec.state_dim:
        return None
    if states is None:  # no recorded state: the policy's mean state stands in
        mean = spec.normalization.state_mean or [0.0] * spec.state_dim
        return np.tile(np.asarray(mean, np.float32), (n, 1))
    states = np.asarray(states, np.float32)
    if states.shape != (n, spec.state_dim):
        raise CalibrationError(
            f"calibration states in {source} have shape {list(states.shape)}; expected "
            f"[{n}, {spec.state_dim}] (one state of {spec.state_dim} values per frame)"
        )
    if not np.isfinite(states).all():
        raise CalibrationError(f"calibration states in {source} contain NaN or inf")
    return states


# --- loading -------------------------------------------------------------------------------------
def load_calibration(
    source: str | Path | None,
    spec: PolicySpec,
    limit: int,
    seed: int = 0,
    cameras: dict[str, str] | None = None,
) -> CalibrationSet:
    """Read calibration data (at most `limit` samples) and check it against the spec.
    `cameras` ({policy camera: LeRobot feature key}, a LeRobot bundle's recorded mapping)
    applies to a LeRobot dataset."""
    if source is None:
        return CalibrationSet.random(spec, limit, seed)
    from vla_edge.data.lerobot_dataset import split_source

    path, lerobot = split_source(source)
    if not path.exists():
        what = "a LeRobotDataset v3 folder" if lerobot else DIR_HELP
        raise CalibrationError(f"calibration data {path} does not exist; {what}")
    data = lerobot_data.read(source, spec, limit, cameras)
    if data is not None:
        return data.check(spec)
    data = demos.read(path, limit, seed)
    if data is None:
        data = _from_npz(path, limit) if path.suffix == ".npz" else _from_dir(path, spec, limit)
    return data.check(spec)


def _from_npz(path: Path, limit: int) -> CalibrationSet:
    try:
        data = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        why = "not a .npz archive" if "pickled" in str(exc) else str(exc)  # numpy's words
        raise CalibrationError(
            f"cannot read calibration file {path} ({why}): expected a .npz written with "
            "np.savez(path, image_<camera>=uint8 [N, H, W, 3], instructions=[...]); or give a "
            "demonstration set or an image folder"
        ) from None
    frames = {k[len("image_") :]: data[k][:limit] for k in data.files if k.startswith("image_")}
    if "instructions" not in data.files:
        raise CalibrationError(f"{path} has no 'instructions' array (one string per frame)")
    n = len(next(iter(frames.values()))) if frames else 0
    texts = _expand([str(t) for t in data["instructions"][:limit]], n, path)
    states = data["state"][:limit] if "state" in data.files else None
    return CalibrationSet(frames, texts, states, str(path))


def _from_dir(path: Path, spec: PolicySpec, limit: int) -> CalibrationSet:
    if not path.is_dir():
        raise CalibrationError(f"calibration data {path} is neither a directory nor a .npz file")
    sub = {d.name: d for d in sorted(path.iterdir()) if d.is_dir() and _images(d)}
    if not sub and _images(path):
        if len(spec.cameras) != 1:
            raise CalibrationError(
                f"{path} holds images directly but the policy has {len(spec.cameras)} cameras "
                f"{spec.camera_names}: put each camera's images in a folder named after it"
            )
        sub = {spec.cameras[0].name: path}
    if not sub:
        raise CalibrationError(f"calibration directory {path} contains no images; {DIR_HELP}")
    frames = {name: _read_images(d, limit) for name, d in sub.items()}
    n = min(len(v) for v in frames.values())
    texts = _expand(_read_instructions(path), n, path)
    states = np.load(path / "states.npy")[:n] if (path / "states.npy").is_file() else None
    return CalibrationSet({k: v[:n] for k, v in frames.items()}, texts, states, str(path))


def _images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def _read_images(folder: Path, limit: int) -> np.ndarray:
    from vla_edge.deps import require

    image = require("PIL.Image", extra="plot", purpose="read calibration images")
    arrays = []
    for p in _images(folder)[:limit]:
        try:
            with image.open(p) as im:
                arrays.append(np.asarray(im.convert("RGB"), dtype=np.uint8))
        except (OSError, ValueError) as exc:  # PIL.UnidentifiedImageError is an OSError
            raise CalibrationError(
                f"calibration image {p} cannot be read ({type(exc).__name__}: {exc}); replace "
                "or remove the file (a truncated or mislabelled image?)"
            ) from None
    shapes = {a.shape for a in arrays}
    if len(shapes) > 1:
        raise CalibrationError(
            f"images in {folder} have different sizes {sorted(shapes)}; resize them all to the "
            "policy's camera size"
        )
    return np.stack(arrays)


def _read_instructions(path: Path) -> list[str]:
    f = path / "instructions.txt"
    if not f.is_file():
        raise CalibrationError(f"{path} has no instructions.txt; {DIR_HELP}")
    lines = [line.strip() for line in f.read_text().splitlines() if line.strip()]
    if not lines:
        raise CalibrationError(f"{f} is empty: write one instruction per line")
    return lines


def _expand(texts: list[str], n: int, where: Path) -> list[str]:
    if len(texts) == 1:
        return texts * n
    if len(texts) < n:
        raise CalibrationError(
            f"{where}: {len(texts)} instructions for {n} frames; give one per frame or a single "
            "instruction for all"
        )
    return texts[:n]
