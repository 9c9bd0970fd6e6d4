"""Cameras read through OpenCV: a V4L2/USB device (index or /dev path), a GStreamer pipeline
(Jetson CSI cameras through nvarguscamerasrc) and a video file (optionally looping).

OpenCV is optional: `pip install 'vla-edge[camera]'`. On a Jetson use the system OpenCV that
JetPack ships (built with GStreamer); the PyPI wheels are built without it.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from vla_edge.deps import require
from vla_edge.errors import RuntimeLoopError
from vla_edge.runtime.cameras.base import Camera


def _cv2():
    return require("cv2", extra="camera", purpose="read cameras and video files")


class OpenCVCamera(Camera):
    """A device index or path. The driver's queue is cut to one buffer, so frames are fresh."""

    kind = "opencv"

    def __init__(
        self,
        source: int | str,
        name: str = "camera",
        fps: float | None = None,
        width: int | None = None,
        height: int | None = None,
    ) -> None:
        super().__init__(name=name, fps=fps)
        self.source = source
        self.width, self.height = width, height
        self._cap = None

    def describe(self) -> str:
        return f"{self.kind} {self.source}"

    def _api(self, cv2) -> int:
        return cv2.CAP_ANY

    def _open(self) -> None:
        cv2 = _cv2()
        cap = cv2.VideoCapture(self.source, self._api(cv2))
        if not cap.isOpened():
            raise RuntimeLoopError(
                f"camera {self.name!r}: OpenCV could not open {self.source!r}; "
                "check the device/file exists and that no other program holds it"
            )
        cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)
        if self.width:
            cap.set(cv2.CAP_PROP_FRAME_WIDTH, self.width)
        if self.height:
            cap.set(cv2.CAP_PROP_FRAME_HEIGHT, self.height)
        self._cap = cap

    def _grab(self) -> tuple[np.ndarray, float] | None:
        if not self._cap.grab():
            raise RuntimeLoopError(
                f"camera {self.name!r} ({self.source}) stopped delivering frames"
            )
        return self._retrieve()

    def _retrieve(self) -> tuple[np.ndarray, float]:
        stamp = time.monotonic()
        ok, bgr = self._cap.retrieve()
        if not ok or bgr is None:
            raise RuntimeLoopError(f"camera {self.name!r} ({self.source}) returned an empty frame")
        return _to_rgb(bgr), stamp

    def _release(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None


class VideoFileCamera(OpenCVCamera):
    """A video file played at its own frame rate (or `fps`), looping unless `loop=False`."""

    kind = "video"

    def __init__(
        self, path: str | Path, name: str = "camera", fps: float | None = None, loop: bool = True
    ) -> None:
        path = Path(path)
        if not path.is_file():
            raise RuntimeLoopError(f"camera {name!r}: no video file at {path}")
        super().__init__(str(path), name=name, fps=fps)
        self.loop = loop

    def _open(self) -> None:
        super()._open()
        if self.fps is None:
            file_fps = float(self._cap.get(_cv2().CAP_PROP_FPS) or 0)
            self.fps = file_fps if 0 < file_fps < 1000 else 30.0

    def _grab(self) -> tuple[np.ndarray, float] | None:
        if self._cap.grab():
            return self._retrieve()
        if not self.loop:
            return None
        self._cap.set(_cv2().CAP_PROP_POS_FRAMES, 0)
        if not self._cap.grab():
            raise RuntimeLoopError(f"camera {self.name!r}: could not rewind {self.source}")
        return self._retrieve()


class GStreamerCamera(OpenCVCamera):
    """A GStreamer pipeline ending in an appsink (OpenCV must be built with GStreamer)."""

    kind = "gstreamer"

    def _api(self, cv2) -> int:
        info = cv2.getBuildInformation()
        line = next((ln for ln in info.splitlines() if "GStreamer" in ln), "GStreamer: unknown")
        if "YES" not in line:
            raise RuntimeLoopError(
                f"camera {self.name!r}: this OpenCV ({cv2.__version__}) was built without "
                f"GStreamer ({line.strip()}); on a Jetson use JetPack's OpenCV "
                "(`sudo apt install python3-opencv`, and uninstall opencv-python wheels)"
            )
        return cv2.CAP_GSTREAMER


def csi_pipeline(
    sensor_id: int = 0, width: int = 1280, height: int = 720, fps: int = 30, flip: int = 0
) -> str:
    """The GStreamer pipeline of a Jetson CSI camera (nvarguscamerasrc), newest frame only."""
    return (
        f"nvarguscamerasrc sensor-id={sensor_id} ! "
        f"video/x-raw(memory:NVMM),width={width},height={height},framerate={fps}/1 ! "
        f"nvvidconv flip-method={flip} ! video/x-raw,format=BGRx ! videoconvert ! "
        "video/x-raw,format=BGR ! appsink drop=true max-buffers=1 sync=false"
    )


def _to_rgb(image: np.ndarray) -> np.ndarray:
    if image.ndim == 2:
        return np.ascontiguousarray(np.repeat(image[:, :, None], 3, axis=2))
    return np.ascontiguousarray(image[:, :, 2::-1])  # BGR(A) -> RGB
