"""Reading images from disk as uint8 RGB arrays (PNG/JPEG through Pillow, or .npy)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vla_edge.errors import InputError


def load_image(path: Path, size: tuple[int, int] | None = None) -> np.ndarray:
    """uint8 [H, W, 3]; resized to size=(H, W) when given."""
    if str(path) in ("", "."):
        raise InputError(
            "no image path given (an empty --image?): give [CAMERA=]PATH of a PNG, JPEG or .npy, "
            "e.g. --image front=frame.png"
        )
    if path.is_dir():
        raise InputError(f"{path} is a directory, not an image file: give a PNG, JPEG or .npy")
    if not path.is_file():
        raise InputError(f"no image file at {path}")
    if path.suffix == ".npy":
        try:
            img = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as exc:  # not an .npy file, or one that holds objects
            raise InputError(
                f"{path} is not a readable .npy array ({exc}); save frames with "
                "np.save(path, frame) as uint8 [H, W, 3], or give a PNG/JPEG"
            ) from None
    else:
        try:
            from PIL import Image
        except ImportError as exc:
            raise InputError("reading PNG/JPEG needs Pillow: `pip install pillow`") from exc
        try:
            img = np.asarray(Image.open(path).convert("RGB"))
        except OSError as exc:
            raise InputError(f"{path} is not a readable image: {exc}") from exc
    if size is not None and img.shape[:2] != size:
        from PIL import Image

        img = np.asarray(Image.fromarray(img).resize((size[1], size[0]), Image.BILINEAR))
    return img
