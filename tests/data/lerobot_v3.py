"""A LeRobotDataset v3 folder written with pyarrow + PyAV only (no lerobot), in the layout
LeRobot 0.6 writes (checked against a dataset written by LeRobot's own API in
tests/lerobot/test_calib_dataset.py). Frames are flat colours that survive lossy video:
camera k of episode e at step t has the value `pixel(k, e, t)`; the state is e * 100 + t."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

CHUNK = "chunk-000/file-000"


def pixel(k: int, e: int, t: int) -> int:
    return (40 * k + 60 * e + 20 * t) % 250


def write(
    root: Path,
    cameras: dict[str, tuple[int, int]],
    state_dim: int = 4,
    action_dim: int = 4,
    episodes: int = 3,
    length: int = 8,
    fps: int = 10,
    tasks: tuple[str, ...] = ("open the drawer", "close the drawer"),
    version: str = "v3.0",
    images: str = "video",
) -> Path:
    """`images`: "video" (an mp4 per camera) or "image" (PNG bytes in the data parquet)."""
    import av
    import pyarrow as pa
    import pyarrow.parquet as pq

    root = Path(root)
    for sub in ("meta/episodes/chunk-000", "data/chunk-000"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    n = episodes * length
    ep = np.repeat(np.arange(episodes), length)
    t = np.tile(np.arange(length), episodes)
    state = (ep[:, None] * 100 + t[:, None] + np.zeros((1, state_dim))).astype(np.float32)
    action = np.random.default_rng(0).standard_normal((n, action_dim)).astype(np.float32)
    data = {
        "observation.state": pa.array(list(state), pa.list_(pa.float32())),
        "action": pa.array(list(action), pa.list_(pa.float32())),
        "timestamp": pa.array((t / fps).astype(np.float32)),
        "frame_index": pa.array(t.astype(np.int64)),
        "episode_index": pa.array(ep.astype(np.int64)),
        "index": pa.array(np.arange(n, dtype=np.int64)),
        "task_index": pa.array((ep % len(tasks)).astype(np.int64)),
    }
    if images == "image":
        data.update(_png_columns(cameras, ep, t))
    pq.write_table(pa.table(data), root / f"data/{CHUNK}.parquet")
    rows = []
    for e in range(episodes):
        row = {
            "episode_index": e,
            "tasks": [tasks[e % len(tasks)]],
            "length": length,
            "data/chunk_index": 0,
            "data/file_index": 0,
            "dataset_from_index": e * length,
            "dataset_to_index": (e + 1) * length,
        }
        for key in cameras if images == "video" else ():
            row[f"videos/{key}/chunk_index"] = 0
            row[f"videos/{key}/file_index"] = 0
            row[f"videos/{key}/from_timestamp"] = e * length / fps
            row[f"videos/{key}/to_timestamp"] = (e + 1) * length / fps
        rows.append(row)
    pq.write_table(pa.Table.from_pylist(rows), root / f"meta/episodes/{CHUNK}.parquet")
    pq.write_table(
        pa.table({"task_index": list(range(len(tasks))), "task": list(tasks)}),
        root / "meta/tasks.parquet",
    )
    for k, (key, (h, w)) in enumerate(cameras.items() if images == "video" else ()):
        path = root / f"videos/{key}/{CHUNK}.mp4"
        path.parent.mkdir(parents=True, exist_ok=True)
        with av.open(str(path), "w") as out:
            stream = out.add_stream("mpeg4", rate=fps)
            stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
            for i in range(n):
                img = np.full((h, w, 3), pixel(k, int(ep[i]), int(t[i])), np.uint8)
                frame = av.VideoFrame.from_ndarray(img, format="rgb24")
                frame.pts = i
                for packet in stream.encode(frame):
                    out.mux(packet)
            for packet in stream.encode():
                out.mux(packet)
    video = {"dtype": images, "names": ["height", "width", "channels"]}
    features = {key: {**video, "shape": [h, w, 3]} for key, (h, w) in cameras.items()}
    features["observation.state"] = {"dtype": "float32", "shape": [state_dim], "names": None}
    features["action"] = {"dtype": "float32", "shape": [action_dim], "names": None}
    for key, dtype in (("timestamp", "float32"), ("frame_index", "int64"), ("index", "int64")):
        features[key] = {"dtype": dtype, "shape": [1], "names": None}
    info = {
        "codebase_version": version,
        "fps": fps,
        "features": features,
        "total_episodes": episodes,
        "total_frames": n,
        "total_tasks": len(tasks),
        "data_path": "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet",
        "video_path": "videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4",
    }
    (root / "meta/info.json").write_text(json.dumps(info, indent=2))
    (root / "meta/stats.json").write_text("{}")
    return root


def _png_columns(cameras: dict, ep: np.ndarray, t: np.ndarray) -> dict:
    """LeRobot's image features: a struct {bytes, path} per frame holding a PNG."""
    import io

    import pyarrow as pa
    from PIL import Image

    out = {}
    for k, (key, (h, w)) in enumerate(cameras.items()):
        cells = []
        for e, s in zip(ep, t, strict=True):
            buf = io.BytesIO()
            Image.fromarray(np.full((h, w, 3), pixel(k, int(e), int(s)), np.uint8)).save(buf, "PNG")
            cells.append({"bytes": buf.getvalue(), "path": None})
        out[key] = pa.array(cells, pa.struct([("bytes", pa.binary()), ("path", pa.string())]))
    return out
