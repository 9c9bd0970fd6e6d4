"""A looping camera over in-memory frames that a test can freeze (stale frames) or break."""

from __future__ import annotations

import threading

import numpy as np

from vla_edge.runtime.cameras.synthetic import ArrayCamera


def frames(n: int = 6, size: int = 32) -> list[np.ndarray]:
    """n distinct frames: frame i is filled with the value 10 * i."""
    return [np.full((size, size, 3), 10 * i, dtype=np.uint8) for i in range(n)]


class LoopingCamera(ArrayCamera):
    kind = "fake"

    def __init__(self, name: str = "front", n: int = 6, size: int = 32, fps: float = 200.0):
        super().__init__(frames(n, size), name=name, fps=fps)
        self._frozen = threading.Event()
        self._broken = False

    def freeze(self) -> None:
        """Stop delivering frames (the newest one goes stale)."""
        self._frozen.set()

    def unfreeze(self) -> None:
        self._frozen.clear()

    def break_(self) -> None:
        """Make the capture thread fail (like a USB camera unplugged)."""
        self._broken = True

    def _grab(self):
        while self._frozen.is_set() and not self._stop.is_set():
            self._stop.wait(0.002)
        if self._broken:
            raise OSError("fake camera unplugged")
        return super()._grab()
