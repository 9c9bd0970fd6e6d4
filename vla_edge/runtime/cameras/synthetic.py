"""Cameras that need no hardware: frames from memory (looping) and a moving test pattern."""

from __future__ import annotations

import numpy as np

from vla_edge.errors import RuntimeLoopError
from vla_edge.runtime.cameras.base import Camera


class ArrayCamera(Camera):
    """Plays a list (or [N, H, W, 3] array) of uint8 RGB frames at `fps`, looping by default."""

    kind = "array"

    def __init__(self, frames, name: str = "camera", fps: float = 30.0, loop: bool = True) -> None:
        super().__init__(name=name, fps=fps)
        self.frames = [np.ascontiguousarray(f) for f in frames]
        if not self.frames:
            raise RuntimeLoopError(f"camera {name!r}: no frames given")
        bad = [i for i, f in enumerate(self.frames) if f.dtype != np.uint8 or f.ndim != 3]
        if bad:
            raise RuntimeLoopError(f"camera {name!r}: frames {bad[:5]} are not uint8 HxWx3")
        self.loop = loop
        self._index = 0

    def describe(self) -> str:
        return f"{self.kind} ({len(self.frames)} frames @ {self.fps} fps)"

    def _grab(self) -> np.ndarray | None:
        if self._index >= len(self.frames):
            if not self.loop:
                return None
            self._index = 0
        frame = self.frames[self._index]
        self._index += 1
        return frame


class PatternCamera(ArrayCamera):
    """A moving colour gradient, `pattern:WxH@FPS` on the command line (default 224x224@30)."""

    kind = "pattern"

    def __init__(
        self, name: str = "camera", width: int = 224, height: int = 224, fps: float = 30.0
    ) -> None:
        super().__init__(pattern_frames(width, height), name=name, fps=fps)


def pattern_frames(width: int, height: int, n: int = 30) -> list[np.ndarray]:
    y, x = np.mgrid[0:height, 0:width]
    frames = []
    for i in range(n):
        shift = i * max(1, width // n)
        r = ((x + shift) * 255 // max(1, width)) % 256
        g = (y * 255 // max(1, height)) % 256
        b = np.full_like(r, (i * 8) % 256)
        frames.append(np.stack([r, g, b], axis=-1).astype(np.uint8))
    return frames
