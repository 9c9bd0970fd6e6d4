"""Fused camera preprocessing: camera frame -> network input in one pass.

`PreprocessConfig` describes the frame (RGB/BGR/RGBA/BGRA packed, NV12, YUYV; size and row
stride) and the network input (size; planar NCHW FP32/FP16 normalized with mean/std, or NHWC
uint8 for graphs that normalize inside). Three implementations of the same math:

- `preprocess_reference`: NumPy, float32 step by step (the spec of the kernel);
- `preprocess_host`: the kernel's `__host__ __device__` math compiled for the CPU (ctypes);
- `preprocess_cuda`: the CUDA kernel on device pointers and a stream (runner, benchmarks).

All three agree bit for bit (see kernels/include/vla_edge/hd.cuh for why the GPU does too).
Resize is bilinear with half-pixel centres and no antialias (cv2.INTER_LINEAR); YUV uses
BT.601 limited range unless told otherwise.
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass

import numpy as np

from vla_edge.errors import InputError

FORMATS = {"rgb": 0, "bgr": 1, "rgba": 2, "bgra": 3, "nv12": 4, "yuyv": 5}
COLORSPACES = {"bt601": 0, "bt709": 1, "bt601-full": 2}
LAYOUTS = {"nchw-f32": 0, "nchw-f16": 1, "nhwc-u8": 2}
_BPP = {"rgb": 3, "bgr": 3, "rgba": 4, "bgra": 4, "yuyv": 2, "nv12": 1}
# (ky, y_off, rv, gu, gv, bu), as in preprocess_math.cuh
YUV_COEFFS = {
    "bt601": (1.164383, 16.0, 1.596027, 0.391762, 0.812968, 2.017232),
    "bt709": (1.164383, 16.0, 1.792741, 0.213249, 0.532909, 2.112402),
    "bt601-full": (1.0, 0.0, 1.402, 0.344136, 0.714136, 1.772),
}
F = np.float32


class PreprocessParams(ctypes.Structure):
    """Mirror of VlaPreprocessParams (kernels/preprocess/preprocess.h)."""

    _fields_ = (
        [("src_batch_stride", ctypes.c_int64)]
        + [
            (n, ctypes.c_int32)
            for n in (
                "src_w",
                "src_h",
                "src_stride",
                "uv_offset",
                "uv_stride",
                "dst_w",
                "dst_h",
                "format",
                "colorspace",
                "out_layout",
            )
        ]
        + [
            ("scale_x", ctypes.c_float),
            ("scale_y", ctypes.c_float),
            ("norm_scale", ctypes.c_float * 3),
            ("norm_bias", ctypes.c_float * 3),
        ]
    )


@dataclass(frozen=True)
class PreprocessConfig:
    src_width: int
    src_height: int
    dst_width: int
    dst_height: int
    format: str = "rgb"
    layout: str = "nchw-f32"
    mean: tuple[float, float, float] = (0.0, 0.0, 0.0)  # on the 0..1 scale, RGB order
    std: tuple[float, float, float] = (1.0, 1.0, 1.0)
    colorspace: str = "bt601"
    src_stride: int | None = None  # bytes per row; None = tightly packed

    def __post_init__(self) -> None:
        for key, table in (("format", FORMATS), ("layout", LAYOUTS), ("colorspace", COLORSPACES)):
            if getattr(self, key) not in table:
                raise InputError(
                    f"{key} must be one of {sorted(table)}, got {getattr(self, key)!r}"
                )
        if min(self.src_width, self.src_height, self.dst_width, self.dst_height) <= 0:
            raise InputError("frame and output sizes must be positive")
        if self.format in ("nv12", "yuyv") and self.src_width % 2:
            raise InputError(f"{self.format} frames need an even width, got {self.src_width}")
        if self.format == "nv12" and self.src_height % 2:
            raise InputError(f"nv12 frames need an even height, got {self.src_height}")
        if min(self.std) <= 0:
            raise InputError(f"std must be > 0, got {self.std}")
        if self.stride < self.src_width * _BPP[self.format]:
            raise InputError(f"src_stride {self.stride} is shorter than a row")

    @property
    def stride(self) -> int:
        return self.src_stride or self.src_width * _BPP[self.format]

    @property
    def frame_bytes(self) -> int:
        rows = self.src_height * 3 // 2 if self.format == "nv12" else self.src_height
        return rows * self.stride

    @property
    def out_shape(self) -> tuple[int, int, int]:
        if self.layout == "nhwc-u8":
            return (self.dst_height, self.dst_width, 3)
        return (3, self.dst_height, self.dst_width)

    @property
    def out_dtype(self) -> np.dtype:
        return np.dtype({"nchw-f32": "f4", "nchw-f16": "f2", "nhwc-u8": "u1"}[self.layout])

    def norm(self) -> tuple[np.ndarray, np.ndarray]:
        """(scale, bias) with out = rgb * scale + bias = (rgb / 255 - mean) / std, in float32."""
        std, mean = np.asarray(self.std, F), np.asarray(self.mean, F)
        return (F(1.0) / (F(255.0) * std)).astype(F), (-mean / std).astype(F)

    def params(self) -> PreprocessParams:
        scale, bias = self.norm()
        return PreprocessParams(
            src_batch_stride=self.frame_bytes,
            src_w=self.src_width,
            src_h=self.src_height,
            src_stride=self.stride,
            uv_offset=self.src_height * self.stride,
            uv_stride=self.stride,
            dst_w=self.dst_width,
            dst_h=self.dst_height,
            format=FORMATS[self.format],
            colorspace=COLORSPACES[self.colorspace],
            out_layout=LAYOUTS[self.layout],
            scale_x=F(self.src_width / self.dst_width),
            scale_y=F(self.src_height / self.dst_height),
            norm_scale=(ctypes.c_float * 3)(*scale),
            norm_bias=(ctypes.c_float * 3)(*bias),
        )


def _frames(frames: np.ndarray, cfg: PreprocessConfig) -> np.ndarray:
    """Raw frames as [batch, frame_bytes] uint8 (accepts one frame or a batch, any shape)."""
    arr = np.ascontiguousarray(frames)
    if arr.dtype != np.uint8:
        raise InputError(f"camera frames must be uint8, got {arr.dtype}")
    if arr.size % cfg.frame_bytes:
        raise InputError(
            f"{arr.size} bytes is not a whole number of {cfg.format} "
            f"{cfg.src_width}x{cfg.src_height} frames ({cfg.frame_bytes} bytes each)"
        )
    return arr.reshape(-1, cfg.frame_bytes)


def _yuv_to_rgb(y: np.ndarray, u: np.ndarray, v: np.ndarray, colorspace: str) -> np.ndarray:
    ky, y_off, rv, gu, gv, bu = (F(c) for c in YUV_COEFFS[colorspace])
    yy = ky * (y.astype(F) - y_off)
    uu, vv = u.astype(F) - F(128), v.astype(F) - F(128)
    rgb = np.stack([yy + rv * vv, (yy - gu * uu) - gv * vv, yy + bu * uu], axis=-1)
    return np.clip(rgb, F(0), F(255))


def source_rgb(frame: np.ndarray, cfg: PreprocessConfig) -> np.ndarray:
    """One raw frame -> full-resolution RGB float32 [H, W, 3] (0..255, not rounded)."""
    h, w, s = cfg.src_height, cfg.src_width, cfg.stride
    rows = frame[: h * s].reshape(h, s)
    if cfg.format in ("rgb", "bgr", "rgba", "bgra"):
        px = rows[:, : w * _BPP[cfg.format]].reshape(h, w, _BPP[cfg.format])
        order = [2, 1, 0] if cfg.format.startswith("bgr") else [0, 1, 2]
        return px[..., order].astype(F)
    if cfg.format == "nv12":
        uv = (
            frame[h * s : h * s + (h // 2) * s].reshape(h // 2, s)[:, :w].reshape(h // 2, w // 2, 2)
        )
        up = np.repeat(np.repeat(uv, 2, axis=0), 2, axis=1)
        return _yuv_to_rgb(rows[:, :w], up[..., 0], up[..., 1], cfg.colorspace)
    quads = rows[:, : w * 2].reshape(h, w // 2, 4)  # yuyv: Y0 U Y1 V
    y = quads[..., [0, 2]].reshape(h, w)
    u, v = np.repeat(quads[..., 1], 2, axis=1), np.repeat(quads[..., 3], 2, axis=1)
    return _yuv_to_rgb(y, u, v, cfg.colorspace)


def _coords(dst: int, scale: float, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    s = (np.arange(dst, dtype=F) + F(0.5)) * F(scale) - F(0.5)
    s = np.maximum(s, F(0))
    i0 = np.clip(np.floor(s).astype(np.int64), 0, size - 1)
    return i0, np.minimum(i0 + 1, size - 1), np.minimum(s - i0.astype(F), F(1))


def _lerp(a: np.ndarray, b: np.ndarray, f: np.ndarray) -> np.ndarray:
    return a * (F(1) - f) + b * f


def preprocess_reference(frames: np.ndarray, cfg: PreprocessConfig) -> np.ndarray:
    """NumPy reference: [batch, *cfg.out_shape] of cfg.out_dtype."""
    x0, x1, fx = _coords(cfg.dst_width, cfg.src_width / cfg.dst_width, cfg.src_width)
    y0, y1, fy = _coords(cfg.dst_height, cfg.src_height / cfg.dst_height, cfg.src_height)
    fx, fy = fx[None, :, None], fy[:, None, None]
    scale, bias = cfg.norm()
    out = []
    for frame in _frames(frames, cfg):
        rgb = source_rgb(frame, cfg)
        top = _lerp(rgb[y0][:, x0], rgb[y0][:, x1], fx)
        bot = _lerp(rgb[y1][:, x0], rgb[y1][:, x1], fx)
        img = _lerp(top, bot, fy)  # [H, W, 3] float32, 0..255
        if cfg.layout == "nhwc-u8":
            out.append(np.clip(np.floor(img + F(0.5)), 0, 255).astype(np.uint8))
        else:
            with np.errstate(over="ignore"):  # FP16 overflow -> inf, as in the kernel
                out.append((img * scale + bias).transpose(2, 0, 1).astype(cfg.out_dtype))
    return np.ascontiguousarray(np.stack(out))


def preprocess_host(frames: np.ndarray, cfg: PreprocessConfig) -> np.ndarray:
    """The kernel's math on the CPU (host build through ctypes)."""
    from vla_edge.kernels.build import host_library

    src = _frames(frames, cfg)
    out = np.empty((src.shape[0], *cfg.out_shape), dtype=cfg.out_dtype)
    params = cfg.params()
    code = host_library().vla_preprocess_host(
        src.ctypes.data_as(ctypes.c_void_p),
        ctypes.c_int(src.shape[0]),
        ctypes.byref(params),
        out.ctypes.data_as(ctypes.c_void_p),
    )
    if code != 0:
        raise InputError(f"preprocess kernel rejected the parameters {cfg}")
    return out


def preprocess_cuda(
    src_ptr: int, dst_ptr: int, batch: int, cfg: PreprocessConfig, stream: int = 0
) -> None:
    """Launch the CUDA kernel on device (or mapped) pointers, asynchronously on `stream`."""
    from vla_edge.errors import BackendError
    from vla_edge.kernels.build import cuda_library

    params = cfg.params()
    code = cuda_library().vla_preprocess_launch(
        ctypes.c_void_p(src_ptr),
        ctypes.c_int(batch),
        ctypes.byref(params),
        ctypes.c_void_p(dst_ptr),
        ctypes.c_void_p(stream),
    )
    if code != 0:
        raise BackendError(f"preprocess kernel launch failed (code {code}) for {cfg}")
