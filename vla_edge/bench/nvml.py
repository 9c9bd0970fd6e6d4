"""NVML readings on a discrete NVIDIA GPU (pynvml optional): power, clocks, memory.

Everything returns None when pynvml or a GPU is absent, so callers need no checks of their own.
`NvmlSampler` polls in a thread while the benchmark runs; each sample is timestamped with
time.monotonic() so the harness can attribute it to the variant that was running.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any


def _nvml() -> Any | None:
    try:
        import pynvml
    except ImportError:
        return None
    try:
        pynvml.nvmlInit()
    except Exception:  # NVMLError: no driver / no GPU
        return None
    return pynvml


def gpu_present() -> bool:
    nv = _nvml()
    if nv is None:
        return False
    try:
        return nv.nvmlDeviceGetCount() > 0
    except Exception:  # NVMLError
        return False


def device_info(index: int = 0) -> dict[str, Any] | None:
    """Name, memory and clock limits of GPU `index`."""
    nv = _nvml()
    if nv is None:
        return None
    try:
        h = nv.nvmlDeviceGetHandleByIndex(index)
        name = nv.nvmlDeviceGetName(h)
        mem = nv.nvmlDeviceGetMemoryInfo(h)
        return {
            "name": _text(name),
            "memory_total_mb": mem.total / 2**20,
            "sm_clock_max_mhz": nv.nvmlDeviceGetMaxClockInfo(h, nv.NVML_CLOCK_SM),
            "mem_clock_max_mhz": nv.nvmlDeviceGetMaxClockInfo(h, nv.NVML_CLOCK_MEM),
            "power_limit_w": nv.nvmlDeviceGetEnforcedPowerLimit(h) / 1000,
            "driver": _text(nv.nvmlSystemGetDriverVersion()),
        }
    except Exception:  # NVMLError or a missing query on an old driver
        return None


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def read(index: int = 0) -> dict[str, float] | None:
    """One sample: power (W), SM and memory clocks (MHz), memory used (MB), utilization (%)."""
    nv = _nvml()
    if nv is None:
        return None
    try:
        h = nv.nvmlDeviceGetHandleByIndex(index)
        util = nv.nvmlDeviceGetUtilizationRates(h)
        return {
            "t": time.monotonic(),
            "power_w": nv.nvmlDeviceGetPowerUsage(h) / 1000,
            "sm_clock_mhz": float(nv.nvmlDeviceGetClockInfo(h, nv.NVML_CLOCK_SM)),
            "mem_clock_mhz": float(nv.nvmlDeviceGetClockInfo(h, nv.NVML_CLOCK_MEM)),
            "memory_used_mb": nv.nvmlDeviceGetMemoryInfo(h).used / 2**20,
            "gpu_util": float(util.gpu),
        }
    except Exception:  # NVMLError
        return None


def process_memory(pid: int | None = None, index: int = 0) -> dict[str, float] | None:
    """GPU memory used by process `pid` (default: this one), in MB."""
    nv = _nvml()
    if nv is None:
        return None
    pid = pid or os.getpid()
    try:
        h = nv.nvmlDeviceGetHandleByIndex(index)
        for proc in nv.nvmlDeviceGetComputeRunningProcesses(h):
            if proc.pid == pid and proc.usedGpuMemory is not None:
                return {"gpu_memory_mb": proc.usedGpuMemory / 2**20}
    except Exception:  # NVMLError
        return None
    return None


class NvmlSampler:
    """Poll `read()` every `interval_s` in a background thread between start() and stop()."""

    def __init__(self, interval_s: float = 0.05, index: int = 0) -> None:
        self.interval_s, self.index = interval_s, index
        self.samples: list[dict[str, float]] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> NvmlSampler:
        if read(self.index) is None:
            return self
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            sample = read(self.index)
            if sample:
                self.samples.append(sample)

    def stop(self) -> list[dict[str, float]]:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        return self.samples
