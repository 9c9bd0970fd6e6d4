"""Fused action decode for `bins` heads: argmax over bins -> bin centre -> de-normalize -> clamp.

`DecodeConfig` holds, per action dimension, the bin range, the de-normalization (mean/std) and
the clamp limits; `DecodeConfig.from_spec(spec)` reproduces the reference `BinsHead`
(`low + (i + 0.5) * (high - low) / bins`, no de-normalization). Implementations:

- `decode_reference`: NumPy (the spec); `decode_host`: the kernel's math on the CPU (ctypes);
- `decode_cuda`: the CUDA kernel on device pointers (one warp per row).

Ties go to the first maximum (numpy/torch argmax); NaN logits are skipped. Bit-exact.
"""

from __future__ import annotations

import ctypes
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from vla_edge.errors import InputError

MAX_DIMS = 32
F = np.float32


class DecodeParams(ctypes.Structure):
    """Mirror of VlaDecodeParams (kernels/action_decode/action_decode.h)."""

    _fields_ = [(n, ctypes.c_int32) for n in ("dims", "bins", "logits_f16", "_pad")] + [
        (n, ctypes.c_float * MAX_DIMS)
        for n in ("bin_low", "bin_width", "mean", "std", "low", "high")
    ]


def _vec(name: str, values: Sequence[float] | None, n: int, default: float) -> np.ndarray:
    arr = np.full(n, default, F) if values is None else np.asarray(values, F).reshape(-1)
    if arr.shape != (n,):
        raise InputError(f"{name} needs {n} values (one per action dimension), got {arr.size}")
    return arr


@dataclass
class DecodeConfig:
    bins: int
    low: Sequence[float]  # clamp limits, physical units
    high: Sequence[float]
    bin_low: Sequence[float] | None = None  # bin range; None = [low, high]
    bin_high: Sequence[float] | None = None
    mean: Sequence[float] | None = None  # de-normalization: value * std + mean
    std: Sequence[float] | None = None

    def __post_init__(self) -> None:
        n = len(self.low)
        if not 1 <= n <= MAX_DIMS:
            raise InputError(f"action decode supports 1..{MAX_DIMS} dimensions, got {n}")
        if self.bins < 1:
            raise InputError(f"bins must be >= 1, got {self.bins}")
        self.low, self.high = _vec("low", self.low, n, 0), _vec("high", self.high, n, 0)
        if np.any(self.low > self.high):
            raise InputError(f"low must be <= high per dimension, got {self.low} / {self.high}")
        self.bin_low = _vec("bin_low", self.bin_low, n, 0) if self.bin_low is not None else self.low
        self.bin_high = (
            _vec("bin_high", self.bin_high, n, 0) if self.bin_high is not None else self.high
        )
        self.mean, self.std = _vec("mean", self.mean, n, 0), _vec("std", self.std, n, 1)

    @property
    def dims(self) -> int:
        return len(self.low)

    @property
    def bin_width(self) -> np.ndarray:
        return ((self.bin_high - self.bin_low) / F(self.bins)).astype(F)

    @classmethod
    def from_spec(cls, spec) -> DecodeConfig:
        """The reference BinsHead of a PolicySpec (bins over [low, high], clamped there)."""
        action = spec.action
        return cls(bins=action.bins, low=action.low, high=action.high)

    def params(self, logits_f16: bool = False) -> DecodeParams:
        p = DecodeParams(dims=self.dims, bins=self.bins, logits_f16=int(logits_f16))
        for name, values in (
            ("bin_low", self.bin_low),
            ("bin_width", self.bin_width),
            ("mean", self.mean),
            ("std", self.std),
            ("low", self.low),
            ("high", self.high),
        ):
            getattr(p, name)[: self.dims] = [float(v) for v in values]
        return p


def _rows(logits: np.ndarray, cfg: DecodeConfig) -> np.ndarray:
    if logits.dtype not in (np.float32, np.float16):
        raise InputError(f"logits must be float32 or float16, got {logits.dtype}")
    if logits.ndim < 2 or logits.shape[-1] != cfg.bins or logits.shape[-2] != cfg.dims:
        raise InputError(
            f"logits must be [..., {cfg.dims} dims, {cfg.bins} bins], got {list(logits.shape)}"
        )
    return np.ascontiguousarray(logits)


def decode_reference(logits: np.ndarray, cfg: DecodeConfig) -> tuple[np.ndarray, np.ndarray]:
    """NumPy reference: ([..., dims] float32 actions, [..., dims] int32 bin indices)."""
    logits = _rows(logits, cfg).astype(F)
    masked = np.where(np.isnan(logits), F(-np.inf), logits)
    idx = np.argmax(masked, axis=-1).astype(np.int32)
    centre = cfg.bin_low + (idx.astype(F) + F(0.5)) * cfg.bin_width
    value = centre * cfg.std + cfg.mean
    return np.minimum(np.maximum(value, cfg.low), cfg.high).astype(F), idx


def decode_host(logits: np.ndarray, cfg: DecodeConfig) -> tuple[np.ndarray, np.ndarray]:
    """The kernel's math on the CPU (host build through ctypes)."""
    from vla_edge.kernels.build import host_library

    logits = _rows(logits, cfg)
    rows = logits.size // cfg.bins
    actions = np.empty(logits.shape[:-1], F)
    idx = np.empty(logits.shape[:-1], np.int32)
    params = cfg.params(logits.dtype == np.float16)
    code = host_library().vla_action_decode_host(
        logits.ctypes.data_as(ctypes.c_void_p),
        ctypes.c_int64(rows),
        ctypes.byref(params),
        actions.ctypes.data_as(ctypes.c_void_p),
        idx.ctypes.data_as(ctypes.c_void_p),
    )
    if code != 0:
        raise InputError(f"action decode rejected its parameters: {cfg}")
    return actions, idx


def decode_cuda(
    logits_ptr: int,
    rows: int,
    actions_ptr: int,
    cfg: DecodeConfig,
    *,
    logits_f16: bool = False,
    indices_ptr: int = 0,
    stream: int = 0,
) -> None:
    """Launch the CUDA kernel on device pointers, asynchronously on `stream`."""
    from vla_edge.errors import BackendError
    from vla_edge.kernels.build import cuda_library

    params = cfg.params(logits_f16)
    code = cuda_library().vla_action_decode_launch(
        ctypes.c_void_p(logits_ptr),
        ctypes.c_int64(rows),
        ctypes.byref(params),
        ctypes.c_void_p(actions_ptr),
        ctypes.c_void_p(indices_ptr or None),
        ctypes.c_void_p(stream),
    )
    if code != 0:
        raise BackendError(f"action decode launch failed (code {code})")
