"""Calibrate the roofline estimator on this machine's CPU (ONNX Runtime).

1. Peaks by micro-benchmark: FP32 and INT8 GEMM throughput of ONNX Runtime's own kernels
   (MatMul, MatMulInteger; numpy's BLAS GEMM is reported beside them) and copy bandwidth
   (numpy copy of 256 MiB: bytes read + written per second). They make the `host` profile.
2. Efficiency factors fitted by least squares on log latency over graphs timed with ONNX
   Runtime (`fit`), reported with the leave-one-bundle-out error (`cross_validate`).
A GPU or a Jetson cannot be calibrated here: the GPU efficiency factors stay assumptions.
"""

from __future__ import annotations

import dataclasses
import os
import platform
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from vla_edge.bench.devices import DeviceProfile
from vla_edge.bench.estimate import Efficiency, peak_flops, predict, units_of, utilization
from vla_edge.bench.roofline import GraphCost

# Fitted by benchmarks/roofline_calibrate.py on the 2-core AVX512-VNNI x86 machine this project
# is developed on: 1 ONNX Runtime thread, CPU time of the computing thread (immune to the other
# jobs sharing the machine), tiny/small/base x fp32/int8 (benchmarks/results/
# bench_calibration_host.json: in-sample mean error 9 %, max 18 %). With more threads the
# same factors are used with `units` = threads. Other CPUs differ: re-run the script there.
HOST_EFFICIENCY = Efficiency(
    gemm=1.0,
    pointwise=0.05,
    memory=0.55,
    launch_us=2.0,
    tile=(16, 64),
    source="fitted on the development CPU, 1 thread (benchmarks/results/"
    "bench_calibration_host.json); not calibrated for other CPUs",
)


CLOCKS = {"wall": time.perf_counter, "thread": time.thread_time}


def _best_seconds(
    fn: Callable[[], Any], repeat: int, budget_s: float, clock: str = "wall"
) -> float:
    """Fastest of `repeat` calls. clock="thread" counts this thread's CPU time only: with one
    ONNX Runtime thread (which computes in the calling thread) it is immune to other jobs on
    a shared machine."""
    now = CLOCKS[clock]
    fn()  # warm
    best, start = float("inf"), time.perf_counter()
    for _ in range(repeat):
        t = now()
        fn()
        best = min(best, now() - t)
        if time.perf_counter() - start > budget_s:
            break
    return best


def _gemm_runner(n: int, int8: bool, threads: int | None):
    """A runner (through runner_for) of one n x n GEMM graph (MatMul or MatMulInteger), and its
    feeds."""
    from onnx import TensorProto, helper

    from vla_edge.backends.factory import RunnerOptions, runner_for

    tin, op = (TensorProto.UINT8, "MatMulInteger") if int8 else (TensorProto.FLOAT, "MatMul")
    tb = TensorProto.INT8 if int8 else TensorProto.FLOAT
    tout = TensorProto.INT32 if int8 else TensorProto.FLOAT
    graph = helper.make_graph(
        [helper.make_node(op, ["a", "b"], ["c"])],
        "gemm",
        [
            helper.make_tensor_value_info("a", tin, [n, n]),
            helper.make_tensor_value_info("b", tb, [n, n]),
        ],
        [helper.make_tensor_value_info("c", tout, [n, n])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    rng = np.random.default_rng(0)
    if int8:
        feeds = {
            "a": rng.integers(0, 255, (n, n), np.uint8),
            "b": rng.integers(-127, 127, (n, n), np.int8),
        }
    else:
        feeds = {"a": rng.random((n, n), np.float32), "b": rng.random((n, n), np.float32)}
    return runner_for(model, options=RunnerOptions(threads=threads)), feeds


def _gemm_seconds(n: int, int8: bool, threads: int | None, budget_s: float, clock: str) -> float:
    runner, feeds = _gemm_runner(n, int8, threads)
    with runner:
        return _best_seconds(lambda: runner.infer(feeds, check=False), 10, budget_s, clock)


def measure_peaks(
    threads: int | None = None,
    n: int = 1024,
    budget_s: float = 1.5,
    copy_mib: int = 256,
    clock: str = "wall",
) -> dict[str, float]:
    """GFLOP/s (fp32, numpy and ORT), GOP/s (int8, ORT) and copy GB/s of this CPU.
    clock="thread" needs threads=1 (numpy's BLAS threads are then not counted: skip it)."""
    flops = 2.0 * n**3
    a = np.random.default_rng(0).random((n, n), np.float32)
    src = np.ones(copy_mib * 2**18, np.float32)  # copy_mib MiB, far beyond the caches
    dst = np.empty_like(src)
    copy_s = _best_seconds(lambda: np.copyto(dst, src), 5, budget_s, clock)
    fp32 = _gemm_seconds(n, False, threads, budget_s, clock)
    int8 = _gemm_seconds(n, True, threads, budget_s, clock)
    out = {
        "ort_fp32_gflops": flops / fp32 / 1e9,
        "ort_int8_gops": flops / int8 / 1e9,
        "copy_gbs": 2 * src.nbytes / copy_s / 1e9,
        "threads": float(threads or os.cpu_count() or 1),
    }
    if clock == "wall":
        out["numpy_fp32_gflops"] = flops / _best_seconds(lambda: a @ a, 10, budget_s) / 1e9
    return out


def quiet_peaks(threads: int | None = None) -> dict[str, float]:
    """Peaks of a quiet machine: one thread timed by its own CPU time (other jobs do not count),
    GEMM rates scaled by the thread count (2 threads measured 1.96x one on the development CPU
    when quiet); copy bandwidth is shared by all threads and is not scaled."""
    n = threads or os.cpu_count() or 1
    one = measure_peaks(1, budget_s=0.75, clock="thread")
    return {
        **one,
        "ort_fp32_gflops": one["ort_fp32_gflops"] * n,
        "ort_int8_gops": one["ort_int8_gops"] * n,
        "threads": float(n),
    }


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def host_profile(peaks: dict[str, float]) -> DeviceProfile:
    """The `host` profile with this machine's measured peaks (fp16 runs at fp32 speed on CPUs
    without native FP16 GEMMs: ONNX Runtime's CPU kernels compute FP16 graphs in FP32)."""
    fp32 = peaks["ort_fp32_gflops"] / 1e3
    mem_gb = _mem_total_gb()
    return DeviceProfile(
        name="host",
        title=f"host CPU: {cpu_name()}, {int(peaks['threads'])} threads (ONNX Runtime)",
        kind="host",
        compute_capability=None,
        memory_gb=mem_gb,
        reserved_gb=min(1.0, mem_gb / 4),
        memory_bandwidth_gbs=peaks["copy_gbs"],
        fp32_tflops=fp32,
        fp16_tflops_dense=fp32,
        int8_tops_dense=peaks["ort_int8_gops"] / 1e3,
        precisions=("fp32", "fp16", "int8"),
        source="measured by vla_edge.bench.calibrate.measure_peaks: "
        + ", ".join(f"{k}={v:.1f}" for k, v in peaks.items()),
    )


def _mem_total_gb() -> float:
    try:
        with open("/proc/meminfo") as fh:
            return int(fh.readline().split()[1]) / 2**20
    except (OSError, ValueError, IndexError):
        return 0.0


def host_efficiency(threads: int) -> Efficiency:
    return dataclasses.replace(HOST_EFFICIENCY, units=threads)


# --- fitting -------------------------------------------------------------------------------
GRID = {
    "gemm": np.linspace(0.1, 1.0, 19),
    "pointwise": np.array([0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0]),
    "memory": np.linspace(0.1, 1.0, 19),
    "launch_us": np.array([0, 1, 2, 3, 4, 6, 8, 10, 15, 20, 30, 40, 60]),
}


def log_errors(
    points: list[tuple[GraphCost, float]], profile: DeviceProfile, eff: Efficiency
) -> np.ndarray:
    """log(estimate / measured) per point."""
    est = np.array([predict(c, profile, eff, "").latency_ms for c, _ in points])
    meas = np.array([m for _, m in points])
    return np.log(est / meas)


def _terms(cost: GraphCost, profile: DeviceProfile, base: Efficiency) -> np.ndarray:
    """Per node: [GEMM seconds at full efficiency, other compute seconds, memory seconds,
    launches], so the grid search below evaluates every efficiency at once."""
    units = units_of(profile, base)
    rows = []
    for n in cost.nodes:
        gemm_like = n.cls in ("gemm", "conv")
        rate = peak_flops(profile, n.compute, n.cls) * (
            utilization(n, base.tile, units) if gemm_like else 1
        )
        t = n.flops / rate if rate else 0.0
        mem = n.bytes / (profile.memory_bandwidth_gbs * 1e9)
        rows.append(
            (t if gemm_like else 0.0, 0.0 if gemm_like else t, mem, 0.0 if n.fused else 1.0)
        )
    return np.array(rows, dtype=np.float64).reshape(-1, 4)


def fit(
    points: list[tuple[GraphCost, float]], profile: DeviceProfile, base: Efficiency
) -> Efficiency:
    """Efficiency minimizing the mean squared log error over `points` (vectorized grid search)."""
    g, p, m = np.meshgrid(GRID["gemm"], GRID["pointwise"], GRID["memory"], indexing="ij")
    g, p, m = g.ravel(), p.ravel(), m.ravel()
    sq = np.zeros((g.size, GRID["launch_us"].size))
    for cost, measured_ms in points:
        t = _terms(cost, profile, base)
        compute = np.outer(t[:, 0], 1 / g) + np.outer(t[:, 1], 1 / p)
        body = np.maximum(compute, np.outer(t[:, 2], 1 / m)).sum(axis=0)  # seconds per combo
        total = body[:, None] + t[:, 3].sum() * GRID["launch_us"][None, :] * 1e-6
        sq += np.log(total * 1e3 / measured_ms) ** 2
    i, j = np.unravel_index(np.argmin(sq), sq.shape)
    return dataclasses.replace(
        base,
        gemm=float(g[i]),
        pointwise=float(p[i]),
        memory=float(m[i]),
        launch_us=float(GRID["launch_us"][j]),
        source=f"fitted on {len(points)} graphs",
    )


def summarize(errors: np.ndarray) -> dict[str, float]:
    """Error statistics of log(estimate/measured), as percentages of the measured latency."""
    pct = (np.exp(errors) - 1) * 100
    return {
        "mean_abs_pct": float(np.mean(np.abs(pct))),
        "max_abs_pct": float(np.max(np.abs(pct))),
        "median_pct": float(np.median(pct)),
        "rms_log": float(np.sqrt(np.mean(errors**2))),
    }
