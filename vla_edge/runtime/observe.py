"""Turning camera frames and robot state into the policy's inputs (the "preprocess" stage)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vla_edge.deps import available
from vla_edge.policy.spec import PolicySpec
from vla_edge.runtime.cameras.base import Frame


@dataclass
class Observation:
    frames: dict[str, np.ndarray]  # uint8 [H, W, 3] at the spec's size
    state: np.ndarray | None
    stamp: float  # capture stamp of the oldest frame used (for end-to-end latency)


def fit_frame(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """Resize to (height, width): OpenCV area/linear when installed, else nearest neighbour."""
    if image.shape[0] == height and image.shape[1] == width:
        return image
    if available("cv2"):
        cv2 = _cv2_single_thread()
        shrink = image.shape[0] > height and image.shape[1] > width
        return cv2.resize(
            image, (width, height), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
        )
    rows = (np.arange(height) * image.shape[0] // height).clip(0, image.shape[0] - 1)
    cols = (np.arange(width) * image.shape[1] // width).clip(0, image.shape[1] - 1)
    return np.ascontiguousarray(image[rows][:, cols])


_CV2 = None


def _cv2_single_thread():
    """OpenCV, set to one thread: its thread pool makes a 0.3 ms resize take 10 ms when the
    CPUs are busy (it waits for its slowest worker), and the loop needs the 0.3 ms."""
    global _CV2
    if _CV2 is None:
        import cv2

        cv2.setNumThreads(1)
        _CV2 = cv2
    return _CV2


def observe(spec: PolicySpec, frames: dict[str, Frame], state: np.ndarray | None) -> Observation:
    images = {
        cam.name: fit_frame(frames[cam.name].image, cam.height, cam.width) for cam in spec.cameras
    }
    stamp = min(frames[name].t_capture for name in images)
    return Observation(frames=images, state=state, stamp=stamp)
