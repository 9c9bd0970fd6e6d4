"""A LeRobotDataset v3 folder read without lerobot (pyarrow + PyAV, the `dataset` extra).

The layout LeRobot 0.5+ writes (codebase_version "v3.x"):
- meta/info.json: fps, `features` ({key: {dtype, shape, names}}), `data_path` and `video_path`
  patterns ({chunk_index}, {file_index}, {video_key});
- meta/tasks.parquet: task_index -> task (the instruction);
- meta/episodes/chunk-*/file-*.parquet: one row per episode with its data file and, per video
  feature, its video file and `from_timestamp` (episodes are concatenated in one mp4);
- data/chunk-*/file-*.parquet: one row per frame (`index`, `episode_index`, `timestamp`,
  `task_index`, `observation.state`, `action`, ...); camera features of dtype "video" live in
  videos/<key>/chunk-*/file-*.mp4 (lossy), those of dtype "image" as PNG bytes in the parquet.

`LeRobotDataset(root).frames(index, images=[...])` reads the rows `index` (global frame
indices) with the named camera features decoded to uint8 [N, H, W, 3]. `camera_name` is the
rule LeRobot bundles use to name a camera feature (`observation.images.wrist.left` ->
`wrist_left`, recorded in the manifest's `lerobot.cameras`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vla_edge.errors import DataError

PREFIX = "lerobot:"
OBS_IMAGES, OBS_STATE, ACTION, TASK = "observation.images.", "observation.state", "action", "task"
INFO = "meta/info.json"
FORMAT_HELP = (
    "a LeRobotDataset v3 folder holds meta/info.json, meta/tasks.parquet, meta/episodes/, "
    "data/chunk-*/file-*.parquet and videos/<camera key>/ (what LeRobotDataset.create + "
    "save_episode + finalize write, or `huggingface-cli download --repo-type dataset`)"
)


def camera_name(key: str) -> str:
    """'observation.images.wrist.left' -> 'wrist_left' (a valid vla-edge camera name)."""
    name = key[len(OBS_IMAGES) :] if key.startswith(OBS_IMAGES) else key
    name = re.sub(r"[^A-Za-z0-9_]", "_", name).strip("_") or "camera"
    return name if name[0].isalpha() else f"cam_{name}"


def split_source(source: str | Path) -> tuple[Path, bool]:
    """`lerobot:PATH` -> (PATH, True); anything else -> (path, False)."""
    text = str(source)
    if text.startswith(PREFIX):
        return Path(text[len(PREFIX) :]), True
    return Path(text), False


def is_lerobot_dataset(path: Path) -> bool:
    return path.is_dir() and (path / INFO).is_file()


@dataclass
class Frames:
    """Rows of a LeRobot dataset: images {feature key: uint8 [N, H, W, 3]}, state float32
    [N, S] or None, action float32 [N, A] or None, tasks (N strings), index and episode (int64
    [N], global frame and episode indices)."""

    images: dict[str, np.ndarray]
    state: np.ndarray | None
    action: np.ndarray | None
    tasks: list[str]
    index: np.ndarray
    episode: np.ndarray


class LeRobotDataset:
    """Reads a LeRobotDataset v3 folder; raises DataError with what was expected and found."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.info = _read_info(self.root)
        self.fps = float(self.info.get("fps") or 0) or None
        self.features: dict[str, dict] = self.info["features"]
        self._episodes: dict[int, dict] | None = None
        self._table = None

    # --- what the dataset holds ------------------------------------------------------------------
    @property
    def version(self) -> str:
        return str(self.info.get("codebase_version"))

    @property
    def camera_keys(self) -> list[str]:
        return [k for k, f in self.features.items() if f.get("dtype") in ("video", "image")]

    def shape(self, key: str) -> tuple[int, ...]:
        return tuple(int(v) for v in self.features[key].get("shape") or ())

    def __len__(self) -> int:
        return len(self._rows()[0])

    def describe(self) -> dict:
        return {
            "format": f"LeRobotDataset {self.version}",
            "episodes": len(self.episodes),
            "frames": len(self),
            "fps": self.fps,
        }

    @property
    def episodes(self) -> dict[int, dict]:
        if self._episodes is None:
            rows = _read_parquets(self.root, "meta/episodes", None)
            self._episodes = {int(r["episode_index"]): r for r in rows.to_pylist()}
            if not self._episodes:
                raise DataError(f"{self.root}/meta/episodes holds no episodes; {FORMAT_HELP}")
        return self._episodes

    def spread(self, limit: int) -> np.ndarray:
        """Up to `limit` global frame indices spread evenly over the whole dataset (so every
        episode and every phase of a motion is represented)."""
        index = self._rows()[0]
        if limit >= len(index):
            return index.copy()
        pick = np.unique(np.linspace(0, len(index) - 1, limit).round().astype(np.int64))
        return index[pick]

    # --- reading ---------------------------------------------------------------------------------
    def frames(self, index: np.ndarray, images: list[str]) -> Frames:
        """The rows with these global frame indices, the camera features `images` decoded."""
        all_index, table = self._rows()
        pos = {int(v): i for i, v in enumerate(all_index)}
        missing = [int(i) for i in index if int(i) not in pos]
        if missing:
            raise DataError(f"{self.root} has no frames with index {missing[:5]}")
        rows = np.asarray([pos[int(i)] for i in index], np.int64)
        sub = table.take(rows)
        episode = sub.column("episode_index").to_numpy().astype(np.int64)
        tasks = self._tasks(sub)
        out = {}
        for key in images:
            if self.features[key].get("dtype") == "video":
                out[key] = self._video(key, episode, sub.column("timestamp").to_numpy())
            else:
                out[key] = self._images(key, sub)
        return Frames(
            out,
            self._vectors(sub, OBS_STATE),
            self._vectors(sub, ACTION),
            tasks,
            np.asarray(index, np.int64),
            episode,
        )

    def _rows(self):
        if self._table is None:
            cols = ["index", "episode_index", "timestamp", "task_index"]
            cols += [k for k in (OBS_STATE, ACTION) if k in self.features]
            cols += [k for k in self.camera_keys if self.features[k].get("dtype") == "image"]
            table = _read_parquets(self.root, "data", cols)
            order = np.argsort(table.column("index").to_numpy(), kind="stable")
            self._table = table.take(order)
        return self._table.column("index").to_numpy().astype(np.int64), self._table

    def _vectors(self, table, key: str) -> np.ndarray | None:
        if key not in table.column_names:
            return None
        col = table.column(key).combine_chunks()
        n = self.shape(key)[0] if self.shape(key) else 1
        values = col.flatten().to_numpy(zero_copy_only=False) if hasattr(col, "flatten") else col
        return np.asarray(values, np.float32).reshape(len(table), n)

    def _tasks(self, table) -> list[str]:
        path = self.root / "meta/tasks.parquet"
        if not path.is_file():
            raise DataError(
                f"{self.root} has no meta/tasks.parquet (the instructions); {FORMAT_HELP}"
            )
        tasks = _parquet().read_table(path).to_pylist()
        by_index = {}
        for row in tasks:
            text = row.get(TASK, row.get("__index_level_0__"))
            by_index[int(row["task_index"])] = str(text)
        out = []
        for t in table.column("task_index").to_numpy():
            if int(t) not in by_index:
                raise DataError(f"{path} has no task with task_index {int(t)}")
            out.append(by_index[int(t)])
        return out

    def _video_path(self, key: str, ep: dict) -> Path:
        pattern = self.info.get("video_path")
        if not pattern:
            raise DataError(f"{self.root}/{INFO} has no video_path but {key!r} is a video feature")
        chunk, file = ep.get(f"videos/{key}/chunk_index"), ep.get(f"videos/{key}/file_index")
        if chunk is None or file is None:
            raise DataError(
                f"episode {ep['episode_index']} in {self.root}/meta/episodes records no video "
                f"file for {key!r}"
            )
        path = self.root / pattern.format(video_key=key, chunk_index=chunk, file_index=file)
        if not path.is_file():
            raise DataError(f"video file {path} (camera {key!r}) is missing; {FORMAT_HELP}")
        return path

    def _video(self, key: str, episode: np.ndarray, timestamp: np.ndarray) -> np.ndarray:
        wants: dict[Path, list[tuple[int, float]]] = {}
        for i, (ep, ts) in enumerate(zip(episode, timestamp, strict=True)):
            row = self.episodes.get(int(ep))
            if row is None:
                raise DataError(f"episode {int(ep)} is not in {self.root}/meta/episodes")
            start = float(row.get(f"videos/{key}/from_timestamp") or 0.0)
            wants.setdefault(self._video_path(key, row), []).append((i, start + float(ts)))
        out: list = [None] * len(episode)
        tol = 0.5 / self.fps if self.fps else 1e-3
        for path, items in wants.items():
            decoded = decode_video(path, sorted({t for _, t in items}), tol)
            for i, t in items:
                out[i] = decoded[t]
        return np.stack(out)

    def _images(self, key: str, table) -> np.ndarray:
        from io import BytesIO

        from vla_edge.deps import require

        image = require("PIL.Image", extra="plot", purpose="read a LeRobot dataset's images")
        arrays = []
        for cell in table.column(key).to_pylist():
            data = cell.get("bytes") if isinstance(cell, dict) else None
            if data is None and isinstance(cell, dict) and cell.get("path"):
                data = (self.root / cell["path"]).read_bytes()
            if data is None:
                raise DataError(f"{self.root}: an image of {key!r} has neither bytes nor a path")
            with image.open(BytesIO(data)) as im:
                arrays.append(np.asarray(im.convert("RGB"), np.uint8))
        return np.stack(arrays)


def decode_video(path: Path, times: list[float], tol: float) -> dict[float, np.ndarray]:
    """Frames (uint8 [H, W, 3]) at `times` (sorted seconds) of a video, each the decoded frame
    within `tol` of it: seek to the keyframe before a time, decode forward; a new seek when
    the next time lies more than 5 s ahead."""
    from vla_edge.deps import require

    av = require("av", extra="dataset", purpose="decode a LeRobot dataset's videos")
    out: dict[float, np.ndarray] = {}
    i = 0
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            while i < len(times):
                container.seek(
                    max(0, round(times[i] / stream.time_base) - 1),
                    backward=True,
                    any_frame=False,
                    stream=stream,
                )
                start, t = i, None
                for frame in container.decode(stream):
                    if frame.pts is None:
                        continue
                    t = float(frame.pts * stream.time_base)
                    while i < len(times) and t >= times[i] - tol:
                        if abs(t - times[i]) > tol:
                            raise DataError(_no_frame(path, times[i], t))
                        out[times[i]] = frame.to_ndarray(format="rgb24")
                        i += 1
                    if i >= len(times) or (i > start and times[i] - t > 5.0):
                        break
                if i == start:
                    raise DataError(_no_frame(path, times[i], t))
    except (OSError, av.error.FFmpegError) as exc:  # type: ignore[attr-defined]
        raise DataError(f"cannot decode video {path} ({type(exc).__name__}: {exc})") from None
    return out


def _no_frame(path: Path, want: float, got: float | None) -> str:
    last = "no frame" if got is None else f"the nearest decoded frame is at {got:.4f} s"
    return (
        f"video {path} has no frame at {want:.4f} s ({last}): the episode's from_timestamp in "
        "meta/episodes and the frame timestamps in data/ do not match the video"
    )


def _parquet():
    from vla_edge.deps import require

    return require("pyarrow.parquet", extra="dataset", purpose="read a LeRobot dataset")


def _read_parquets(root: Path, folder: str, columns: list[str] | None):
    pq = _parquet()
    import pyarrow as pa

    files = sorted((root / folder).glob("chunk-*/file-*.parquet"))
    if not files:
        raise DataError(f"{root}/{folder} holds no chunk-*/file-*.parquet files; {FORMAT_HELP}")
    try:
        tables = [pq.read_table(f, columns=columns) for f in files]
    except (OSError, pa.ArrowException) as exc:
        raise DataError(f"cannot read {root}/{folder} ({type(exc).__name__}: {exc})") from None
    return pa.concat_tables(tables, promote_options="default")


def _read_info(root: Path) -> dict:
    info = root / INFO
    if not info.is_file():
        found = sorted(p.name for p in root.iterdir())[:8] if root.is_dir() else None
        what = "it does not exist" if found is None else f"it holds {found}"
        raise DataError(
            f"{root} is not a LeRobotDataset v3 folder: expected {INFO}, {what}; {FORMAT_HELP}"
        )
    try:
        meta = json.loads(info.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise DataError(f"cannot read {info}: {exc}") from None
    version = str(meta.get("codebase_version", "?"))
    if not version.startswith("v3"):
        raise DataError(
            f"{root} is a LeRobotDataset {version}; vla-edge reads v3.x: convert it with "
            "`python -m lerobot.scripts.convert_dataset_v21_to_v30 --repo-id=... ` (lerobot >= "
            "0.4) or download the v3 revision"
        )
    if not isinstance(meta.get("features"), dict):
        raise DataError(f"{info} has no 'features' table; {FORMAT_HELP}")
    return meta


# --- onto a policy's inputs ----------------------------------------------------------------------
def map_cameras(ds: LeRobotDataset, spec, cameras: dict[str, str] | None = None) -> dict[str, str]:
    """{policy camera name: dataset feature key}. `cameras` is the mapping a LeRobot bundle
    records (manifest `lerobot.cameras`); without it each camera feature is named by
    `camera_name` (the rule LeRobot bundles use), and a one-camera policy takes a one-camera
    dataset's only camera. Checks each camera's frame size against the spec."""
    found = ds.camera_keys
    by_name = {camera_name(k): k for k in found}
    if cameras is None and len(spec.cameras) == 1 and len(found) == 1:
        cameras = {spec.cameras[0].name: found[0]}
    out = {}
    for cam in spec.cameras:
        key = (cameras or {}).get(cam.name) or by_name.get(cam.name)
        if key not in ds.features:
            want = (cameras or {}).get(cam.name) or f"{OBS_IMAGES}{cam.name}"
            raise DataError(
                f"{ds.root}: the policy's camera {cam.name!r} reads feature {want!r}, which the "
                f"dataset does not have (its camera features: {found}); record the dataset with "
                "the camera keys the policy was trained on, or export the policy from a "
                "checkpoint trained on this dataset"
            )
        h, w = _height_width(ds, key)
        if (h, w) != (cam.height, cam.width):
            raise DataError(
                f"{ds.root}: camera {cam.name!r} ({key}) is {w}x{h} in the dataset but the policy "
                f"takes {cam.width}x{cam.height}: use a dataset recorded at the policy's "
                "resolution (the one its checkpoint was trained on)"
            )
        out[cam.name] = key
    return out


def check_state(ds: LeRobotDataset, spec) -> None:
    """The policy's state dimension against the dataset's `observation.state`."""
    if not spec.state_dim:
        return
    if OBS_STATE not in ds.features:
        raise DataError(
            f"{ds.root}: the policy takes a state of {spec.state_dim} values but the dataset has "
            f"no {OBS_STATE!r} feature (features: {sorted(ds.features)}); use a dataset that "
            "records the robot's state"
        )
    shape = ds.shape(OBS_STATE)
    if shape != (spec.state_dim,):
        raise DataError(
            f"{ds.root}: {OBS_STATE!r} has shape {list(shape)} but the policy takes a state of "
            f"{spec.state_dim} values: use the dataset the policy was trained on (same robot, "
            "same state layout)"
        )


def observations(source, spec, limit: int, cameras: dict[str, str] | None = None):
    """(LeRobotDataset, {camera: feature key}, {camera: uint8 [N, H, W, 3]}, Frames) for up to
    `limit` frames spread over the dataset, mapped onto the policy's cameras and checked
    against its spec."""
    ds = source if isinstance(source, LeRobotDataset) else LeRobotDataset(split_source(source)[0])
    keys = map_cameras(ds, spec, cameras)
    check_state(ds, spec)
    rows = ds.frames(ds.spread(limit), list(keys.values()))
    return ds, keys, {name: rows.images[key] for name, key in keys.items()}, rows


def _height_width(ds: LeRobotDataset, key: str) -> tuple[int, int]:
    shape = ds.shape(key)
    names = ds.features[key].get("names") or []
    if len(shape) == 3 and list(names)[:1] == ["channels"]:
        return shape[1], shape[2]
    return (shape[0], shape[1]) if len(shape) >= 2 else (0, 0)
