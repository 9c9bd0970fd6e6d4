"""Cameras, and `open_camera(SOURCE)` that picks one from a command-line source string.

SOURCE forms (`--camera [NAME=]SOURCE`):
    0, 1, ...                 OpenCV/V4L2 device index
    /dev/video0               V4L2 device path
    csi://0                   Jetson CSI camera 0 through nvarguscamerasrc (GStreamer)
    gst:PIPELINE | "a ! b"    a GStreamer pipeline ending in appsink
    clip.mp4[?loop=0&fps=15]  a video file (loops unless loop=0; plays at its own fps)
    frames/[?fps=10&loop=0]   a folder of images (.png/.jpg/.npy), in name order
    pattern[:WxH@FPS]         a synthetic moving test pattern (no hardware, no OpenCV)
    sim:CAMERA                a simulator camera (with --sim)
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import parse_qs

from vla_edge.errors import RuntimeLoopError
from vla_edge.runtime.cameras.base import Camera, Frame
from vla_edge.runtime.cameras.folder import FolderCamera
from vla_edge.runtime.cameras.opencv import (
    GStreamerCamera,
    OpenCVCamera,
    VideoFileCamera,
    csi_pipeline,
)
from vla_edge.runtime.cameras.synthetic import ArrayCamera, PatternCamera

__all__ = [
    "ArrayCamera",
    "Camera",
    "FolderCamera",
    "Frame",
    "GStreamerCamera",
    "OpenCVCamera",
    "PatternCamera",
    "VideoFileCamera",
    "csi_pipeline",
    "open_camera",
    "parse_camera_arg",
]

_NAMED = re.compile(r"^([A-Za-z][A-Za-z0-9_]*)=(.+)$")
_PATTERN = re.compile(r"^pattern(?::(\d+)x(\d+)(?:@([\d.]+))?)?$")


def parse_camera_arg(arg: str) -> tuple[str | None, str]:
    """`wrist=0` -> ("wrist", "0"); `clip.mp4` -> (None, "clip.mp4")."""
    m = _NAMED.match(arg)
    if m and "!" not in m.group(1):
        return m.group(1), m.group(2)
    return None, arg


def _split_query(source: str) -> tuple[str, dict[str, str]]:
    path, sep, query = source.partition("?")
    if not sep:
        return source, {}
    return path, {k: v[-1] for k, v in parse_qs(query).items()}


def open_camera(source: str, name: str = "camera") -> Camera:
    """A Camera (not connected yet) for a command-line SOURCE."""
    if m := _PATTERN.match(source):
        w, h = int(m.group(1) or 224), int(m.group(2) or 224)
        fps = _fps(source, m.group(3)) if m.group(3) else 30.0
        if not (w > 0 and h > 0):
            raise RuntimeLoopError(
                f"camera source {source!r}: a test pattern needs a size of at least 1x1 pixels, "
                f"got {w}x{h}; e.g. pattern:224x224@30"
            )
        return PatternCamera(name, w, h, fps)
    if source.startswith("csi://"):
        sensor = source[6:] or "0"
        if not sensor.isdigit():
            raise RuntimeLoopError(
                f"camera source {source!r}: a CSI camera is csi://N with N the sensor number "
                f"(0, 1, ...), got {sensor!r}; e.g. csi://0"
            )
        return GStreamerCamera(csi_pipeline(sensor_id=int(sensor)), name=name)
    if source.startswith("gst:") or " ! " in source:
        return GStreamerCamera(source.removeprefix("gst:").strip(), name=name)
    if source.isdigit():
        return OpenCVCamera(int(source), name=name)
    if source.startswith("/dev/"):
        return OpenCVCamera(source, name=name)
    if source.startswith("sim:"):
        raise RuntimeLoopError(f"camera source {source!r} needs --sim SUITE:TASK")
    return _file_camera(source, name)


def _fps(source: str, text: str) -> float:
    try:
        fps = float(text)
    except ValueError:
        fps = float("nan")
    if not 0 < fps < float("inf"):
        raise RuntimeLoopError(
            f"camera source {source!r}: fps must be a positive number of frames per second, "
            f"got {text!r}; e.g. {_fps_example(source)}"
        )
    return fps


def _fps_example(source: str) -> str:
    path = source.partition("?")[0]
    return "pattern:224x224@15" if path.startswith("pattern") else f"{path}?fps=15"


def _file_camera(source: str, name: str) -> Camera:
    path_str, opts = _split_query(source)
    path = Path(path_str).expanduser()
    loop = opts.get("loop", "1") not in ("0", "false", "no")
    fps = _fps(source, opts["fps"]) if "fps" in opts else None
    if path.is_dir():
        return FolderCamera(path, name=name, fps=fps or 30.0, loop=loop)
    if path.is_file():
        return VideoFileCamera(path, name=name, fps=fps, loop=loop)
    raise RuntimeLoopError(
        f"camera source {source!r} is not a device, pipeline, file or folder; expected one of: "
        "a device index (0), /dev/videoN, csi://N, gst:PIPELINE, a video file, a folder of "
        "images, pattern[:WxH@FPS], or sim:CAMERA with --sim"
    )
