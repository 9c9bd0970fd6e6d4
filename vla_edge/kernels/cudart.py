"""The few CUDA runtime calls the kernel wrappers and their GPU tests need, through ctypes on
libcudart (no pycuda, no torch): device count, malloc/free, copies, synchronize."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
from functools import lru_cache
from pathlib import Path

import numpy as np

from vla_edge.errors import BackendError

H2D, D2H = 1, 2  # cudaMemcpyHostToDevice, cudaMemcpyDeviceToHost


@lru_cache(maxsize=1)
def cudart() -> ctypes.CDLL | None:
    """libcudart, or None when there is none (no CUDA on this machine)."""
    names = [ctypes.util.find_library("cudart")]
    for root in (os.environ.get("CUDA_HOME"), os.environ.get("CUDA_PATH"), "/usr/local/cuda"):
        if root:
            names += sorted(str(p) for p in Path(root, "lib64").glob("libcudart.so*"))
    for name in filter(None, names):
        try:
            return ctypes.CDLL(name)
        except OSError:
            continue
    return None


def gpu_count() -> int:
    lib = cudart()
    if lib is None:
        return 0
    count = ctypes.c_int(0)
    return count.value if lib.cudaGetDeviceCount(ctypes.byref(count)) == 0 else 0


def check(code: int, what: str) -> None:
    if code != 0:
        raise BackendError(f"CUDA call {what} failed with cudaError {code}")


class DeviceBuffer:
    """A cudaMalloc'ed buffer (context manager). `.ptr` is the device address."""

    def __init__(self, nbytes: int) -> None:
        self.nbytes = int(nbytes)
        self._ptr = ctypes.c_void_p()
        check(
            cudart().cudaMalloc(ctypes.byref(self._ptr), ctypes.c_size_t(self.nbytes)), "cudaMalloc"
        )

    @property
    def ptr(self) -> int:
        return int(self._ptr.value or 0)

    @classmethod
    def from_array(cls, array: np.ndarray) -> DeviceBuffer:
        array = np.ascontiguousarray(array)
        buf = cls(array.nbytes)
        buf.upload(array)
        return buf

    def upload(self, array: np.ndarray) -> None:
        array = np.ascontiguousarray(array)
        check(
            cudart().cudaMemcpy(
                self._ptr, array.ctypes.data_as(ctypes.c_void_p), ctypes.c_size_t(array.nbytes), H2D
            ),
            "cudaMemcpy H2D",
        )

    def download(self, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
        out = np.empty(shape, dtype=dtype)
        check(
            cudart().cudaMemcpy(
                out.ctypes.data_as(ctypes.c_void_p), self._ptr, ctypes.c_size_t(out.nbytes), D2H
            ),
            "cudaMemcpy D2H",
        )
        return out

    def free(self) -> None:
        if self._ptr.value:
            cudart().cudaFree(self._ptr)
            self._ptr = ctypes.c_void_p()

    def __enter__(self) -> DeviceBuffer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.free()


def synchronize() -> None:
    check(cudart().cudaDeviceSynchronize(), "cudaDeviceSynchronize")
