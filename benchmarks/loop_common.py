"""Shared pieces of the loop benchmarks: stand-in policies, a UDP sink, machine-load notes."""

from __future__ import annotations

import os
import platform
import socket
import time
from pathlib import Path

import numpy as np

from vla_edge.policy.spec import ActionSpace, CameraSpec, PolicySpec


def spec(chunk: int = 8, size: int = 224, dim: int = 7) -> PolicySpec:
    names = ["x", "y", "z", "roll", "pitch", "yaw", "grip"][:dim]
    return PolicySpec(
        cameras=[CameraSpec("front", size, size)],
        action=ActionSpace(names, ["m"] * dim, [-1.0] * dim, [1.0] * dim, chunk=chunk),
        state_dim=0,
    )


class SleepPolicy:
    """Inference that takes `latency_s` without holding the CPU or the GIL (like a GPU or an
    ONNX Runtime call waiting on its own threads); returns a fixed in-range chunk."""

    def __init__(self, latency_s: float, chunk: int = 8, size: int = 224) -> None:
        self.spec = spec(chunk, size)
        self.latency_s = latency_s
        self._chunk = np.full((chunk, self.spec.action.dim), 0.1, np.float32)
        self.last_latency_ms = latency_s * 1e3
        self.source = f"sleep {latency_s * 1e3:g} ms"

    def predict(self, frames, instruction, state=None):
        if self.latency_s:
            time.sleep(self.latency_s)
        return self._chunk

    def close(self) -> None:
        pass


def udp_sink() -> tuple[socket.socket, int]:
    """A bound UDP socket that is never read (the kernel drops what overflows): a receiver
    that costs the benchmark process nothing."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    return sock, sock.getsockname()[1]


def rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        pages = int(fh.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


SAMPLER = r"""
import os, sys, time
pid, every, path = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
page = os.sysconf("SC_PAGE_SIZE") / 2**20
hz = os.sysconf("SC_CLK_TCK")
t0 = time.monotonic()
prev = None
with open(path, "w", buffering=1) as out:
    while True:
        try:
            rss = int(open(f"/proc/{pid}/statm").read().split()[1]) * page
        except OSError:
            break
        cpu = open("/proc/stat").readline().split()
        steal, total = int(cpu[8]), sum(int(x) for x in cpu[1:9])
        st = 0.0 if prev is None or total == prev[1] else (steal - prev[0]) / (total - prev[1])
        prev = (steal, total)
        out.write(f"{time.monotonic()} {os.getloadavg()[0]} {rss} {st}\n")
        time.sleep(every)
"""


class LoadSampler:
    """Samples the 1-minute load average, this process's RSS and the CPU steal fraction every
    `every_s` seconds from a separate process, so the sampling costs the measured process
    nothing (no thread of its own competing for the GIL). Sample times are time.monotonic()
    (the system-wide clock the loop stamps with too)."""

    def __init__(self, every_s: float = 5.0) -> None:
        self.every_s = every_s
        self.samples: list[tuple[float, float, float]] = []
        self.steal: list[float] = []

    def __enter__(self) -> LoadSampler:
        import subprocess
        import sys
        import tempfile

        self._file = tempfile.NamedTemporaryFile("r", suffix=".txt", delete=False)
        args = [sys.executable, "-c", SAMPLER, str(os.getpid()), str(self.every_s), self._file.name]
        self._proc = subprocess.Popen(args)
        return self

    def __exit__(self, *exc) -> None:
        time.sleep(min(self.every_s, 1.0) + 0.2)
        self._proc.terminate()
        self._proc.wait()
        lines = Path(self._file.name).read_text().splitlines()
        for line in lines:
            t, load, rss, steal = (float(x) for x in line.split())
            self.samples.append((t, load, rss))
            self.steal.append(steal)
        os.unlink(self._file.name)

    def summary(self) -> dict:
        loads = [s[1] for s in self.samples] or [float("nan")]
        steal = self.steal[1:] or [0.0]
        return {
            "load1_min": round(min(loads), 2),
            "load1_max": round(max(loads), 2),
            "load1_mean": round(float(np.mean(loads)), 2),
            "cpu_steal_mean_pct": round(100 * float(np.mean(steal)), 2),
            "cpu_steal_max_pct": round(100 * float(max(steal)), 2),
        }


def machine() -> dict:
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_avg_at_start": os.getloadavg(),
    }


def pick(summary: dict) -> dict:
    """The headline figures of a run summary."""
    keys = ("cycle_ms", "loop_overhead_ms", "start_lateness_ms", "end_to_end_ms", "inference_ms")
    out = {k: summary.get(k) for k in keys}
    out.update(
        {
            k: summary[k]
            for k in (
                "cycles",
                "achieved_rate_hz",
                "deadline_misses",
                "skipped_ticks",
                "faults",
                "commands",
                "stop_reason",
            )
        }
    )
    out["stages_p99_ms"] = {k: v["p99"] for k, v in summary["stages_ms"].items()}
    return out


class StampActuator:
    """Keeps the loop time of every write in a preallocated array (no per-write allocation)."""

    def __new__(cls, capacity: int = 200_000):
        from vla_edge.runtime.actuators.base import Actuator

        class _Stamp(Actuator):
            kind = "stamps"

            def __init__(self) -> None:
                super().__init__()
                self.t = np.zeros(capacity)
                self.kinds: dict[str, int] = {}
                self.n = 0

            def _write(self, command) -> None:
                if self.n < capacity:
                    self.t[self.n] = command.t
                self.n += 1
                self.kinds[command.kind] = self.kinds.get(command.kind, 0) + 1

        return _Stamp()
