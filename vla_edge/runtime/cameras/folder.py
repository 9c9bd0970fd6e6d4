"""A folder of images played as a camera, in name order, looping unless `loop=False`.

PNG/JPEG/BMP files need OpenCV (`pip install 'vla-edge[camera]'`); `.npy` files holding uint8
HxWx3 RGB arrays need nothing else.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vla_edge.deps import require
from vla_edge.errors import RuntimeLoopError
from vla_edge.runtime.cameras.base import Camera

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".npy")


class FolderCamera(Camera):
    kind = "folder"

    def __init__(
        self, folder: str | Path, name: str = "camera", fps: float = 30.0, loop: bool = True
    ) -> None:
        super().__init__(name=name, fps=fps)
        self.folder = Path(folder)
        self.loop = loop
        self.files = (
            sorted(p for p in self.folder.glob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
            if self.folder.is_dir()
            else []
        )
        if not self.files:
            raise RuntimeLoopError(
                f"camera {name!r}: no images ({', '.join(IMAGE_SUFFIXES)}) in folder {self.folder}"
            )
        self._index = 0

    def describe(self) -> str:
        return f"folder {self.folder} ({len(self.files)} images)"

    def _grab(self) -> np.ndarray | None:
        if self._index >= len(self.files):
            if not self.loop:
                return None
            self._index = 0
        path = self.files[self._index]
        self._index += 1
        return load_image(path)


def load_image(path: Path) -> np.ndarray:
    """An image file as uint8 RGB HxWx3."""
    if path.suffix.lower() == ".npy":
        image = np.load(path, allow_pickle=False)
    else:
        cv2 = require("cv2", extra="camera", purpose=f"read {path.suffix} images")
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if bgr is None:
            raise RuntimeLoopError(f"could not read image {path}")
        image = np.ascontiguousarray(bgr[:, :, ::-1])
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise RuntimeLoopError(
            f"image {path} must be uint8 HxWx3, got {image.dtype} {tuple(image.shape)}"
        )
    return image
