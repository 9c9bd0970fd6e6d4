import dataclasses

import numpy as np
import pytest

from tests.bench import graphs
from vla_edge.bench import calibrate
from vla_edge.bench.estimate import predict
from vla_edge.bench.roofline import analyze

PEAKS = {"ort_fp32_gflops": 100.0, "ort_int8_gops": 200.0, "copy_gbs": 20.0, "threads": 2.0}


def test_host_profile_from_peaks():
    p = calibrate.host_profile(PEAKS)
    assert p.kind == "host" and p.fp32_tflops == pytest.approx(0.1)
    assert p.fp16_tflops_dense == p.fp32_tflops  # no FP16 speed-up on the CPU
    assert p.int8_tops_dense == pytest.approx(0.2) and p.memory_bandwidth_gbs == 20.0


def test_fit_recovers_a_known_efficiency():
    profile = calibrate.host_profile(PEAKS)
    base = calibrate.host_efficiency(2)
    truth = dataclasses.replace(base, gemm=0.5, pointwise=0.2, memory=0.3, launch_us=4.0)
    costs = [
        analyze(graphs.matmul_graph(m, k, n), "fp32", batch=b, target="onnxruntime")
        for m, k, n, b in [(8, 32, 16, 1), (256, 512, 512, 4), (64, 1024, 64, 2), (1, 64, 64, 1)]
    ]
    costs.append(analyze(graphs.conv_graph(), "fp32", target="onnxruntime"))
    points = [(c, predict(c, profile, truth, "").latency_ms) for c in costs]
    fitted = calibrate.fit(points, profile, base)
    errors = calibrate.log_errors(points, profile, fitted)
    assert np.max(np.abs(errors)) < 0.05
    assert fitted.gemm == pytest.approx(0.5)


def test_summary_in_percent():
    s = calibrate.summarize(np.log(np.array([1.1, 0.8])))
    assert s["mean_abs_pct"] == pytest.approx(15.0)
    assert s["max_abs_pct"] == pytest.approx(20.0)


def test_micro_benchmark_gives_positive_peaks():
    peaks = calibrate.measure_peaks(threads=1, n=128, budget_s=0.05, copy_mib=16)
    assert all(peaks[k] > 0 for k in ("ort_fp32_gflops", "ort_int8_gops", "copy_gbs"))
