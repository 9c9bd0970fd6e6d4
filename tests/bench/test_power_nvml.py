import sys
import types

import pytest

from vla_edge.bench import nvml
from vla_edge.bench.power import attach_samples


def test_samples_go_to_the_variant_that_ran():
    variants = [
        {"intervals": [(0.0, 1.0), (2.0, 3.0)], "latency_ms": {"mean": 10.0}},
        {"intervals": [(1.0001, 1.9)], "latency_ms": {"mean": 5.0}},
        {"intervals": [(5.0, 6.0)], "latency_ms": {"mean": 5.0}},
    ]
    samples = [
        {"t": 0.5, "power_mw": 10000, "gpu_mhz": 1300, "temps_c": {"gpu": 50.0}},
        {"t": 2.5, "power_mw": 12000, "gpu_mhz": 1300, "temps_c": {"gpu": 52.0}},
        {"t": 1.5, "power_mw": 6000, "gpu_mhz": 624},
    ]
    attach_samples(variants, samples)
    a, b, c = (v["power"] for v in variants)
    assert a["power_w"] == pytest.approx(11.0) and a["samples"] == 2
    assert a["energy_mj_per_inference"] == pytest.approx(110.0)  # 11 W x 10 ms
    assert a["max_temp_c"] == 52.0
    assert b["power_w"] == pytest.approx(6.0) and b["gpu_clock_mhz"] == 624
    assert c is None


def _fake_pynvml():
    m = types.ModuleType("pynvml")
    m.NVML_CLOCK_SM, m.NVML_CLOCK_MEM = 1, 2
    m.nvmlInit = lambda: None
    m.nvmlDeviceGetCount = lambda: 1
    m.nvmlDeviceGetHandleByIndex = lambda i: "h"
    m.nvmlDeviceGetPowerUsage = lambda h: 123_000
    m.nvmlDeviceGetClockInfo = lambda h, kind: {1: 1755, 2: 2619}[kind]
    m.nvmlDeviceGetMemoryInfo = lambda h: types.SimpleNamespace(used=2 * 2**30, total=80 * 2**30)
    m.nvmlDeviceGetUtilizationRates = lambda h: types.SimpleNamespace(gpu=97)
    proc = types.SimpleNamespace(pid=4242, usedGpuMemory=512 * 2**20)
    m.nvmlDeviceGetComputeRunningProcesses = lambda h: [proc]
    return m


def test_nvml_readings_with_a_fake_pynvml(monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", _fake_pynvml())
    sample = nvml.read()
    assert sample["power_w"] == pytest.approx(123.0)
    assert sample["sm_clock_mhz"] == 1755 and sample["gpu_util"] == 97
    assert nvml.process_memory(4242) == {"gpu_memory_mb": 512.0}
    assert nvml.process_memory(1) is None


def test_nvml_absent_means_none(monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", None)  # import raises ImportError
    assert nvml.read() is None and nvml.device_info() is None
    assert not nvml.gpu_present()
    assert nvml.NvmlSampler().start().stop() == []
