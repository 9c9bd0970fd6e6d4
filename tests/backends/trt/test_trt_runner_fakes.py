"""TensorRTRunner against fakes of TensorRT 10.3, pycuda and libcudart (tests/fakes/trt.py):
which thread has the CUDA context, what a failure leaves behind, what deactivation frees,
CUDA-graph capture and its failure path, plugins loaded once, engines matched to the machine.
No TensorRT object is constructed: the real paths run in jetson/tests/ on the device."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from tests.fakes import trt as fakes
from vla_edge.backends.trt.runner import TensorRTRunner
from vla_edge.backends.trt.sidecar import Machine, Sidecar, mismatches, require_match
from vla_edge.errors import BackendError, DeviceError, EngineBuildError


@pytest.fixture
def env(monkeypatch, tmp_path):
    cuda, trt, cudart = fakes.install(monkeypatch)
    engine = tmp_path / "engines" / "orin-agx-64gb-fp16.plan"
    engine.parent.mkdir()
    engine.write_bytes(b"plan")
    return cuda, trt, cudart, engine


def _runner(engine, **kw):
    return TensorRTRunner(engine, check_sidecar=False, **kw)


def _x(batch=2):
    return np.arange(batch * 4, dtype=np.float32).reshape(batch, 4)


def test_infers_on_another_thread_than_the_one_that_activated(env):
    cuda, trt, _, engine = env
    runner = _runner(engine, zero_copy=False).activate()
    assert cuda.stack() == []  # activation leaves no context pushed on this thread
    out = {}

    def worker():
        out["y"] = runner.infer({"x": _x()})["y"]
        out["stack"] = list(cuda.stack())

    t = threading.Thread(target=worker, name="inference")
    t.start()
    t.join()
    np.testing.assert_array_equal(out["y"], 2 * _x() + 1)
    assert out["stack"] == [] and trt.contexts[0].executed_on == ["inference"]
    runner.deactivate()


@pytest.mark.parametrize("zero_copy", [False, True])
def test_data_flows_through_both_memory_modes(env, zero_copy):
    *_, engine = env
    with _runner(engine, zero_copy=zero_copy) as runner:
        np.testing.assert_array_equal(runner.infer({"x": _x(3)})["y"], 2 * _x(3) + 1)
        np.testing.assert_array_equal(runner.infer({"x": _x(1)})["y"], 2 * _x(1) + 1)
        with pytest.raises(BackendError, match="optimization profile"):
            runner.infer({"x": _x(9)})


def test_failed_activation_frees_everything_and_pops_the_context(env):
    cuda, *_, engine = env
    cuda.fail_alloc_after = 1  # the output buffer's allocation fails
    runner = _runner(engine, zero_copy=False)
    with pytest.raises(fakes.FakeCudaError, match="out of memory"):
        runner.activate()
    assert not runner.is_active and cuda.stack() == []
    assert cuda.allocs and cuda.live_allocs == []  # the input buffer was freed
    assert all(s.destroyed and s.destroyed_with_context for s in cuda.streams)


def test_deactivate_frees_stream_and_buffers_with_the_context_current(env):
    cuda, *_, engine = env
    runner = _runner(engine, zero_copy=False).activate()
    runner.infer({"x": _x()})
    runner.deactivate()
    assert cuda.live_allocs == [] and cuda.stack() == []
    assert cuda.streams[0].destroyed and cuda.streams[0].destroyed_with_context
    assert runner.stream is None and runner.context is None


def test_policy_closes_the_first_runner_when_the_second_fails(env, tmp_path):
    from vla_edge.policy.policy import Policy
    from vla_edge.policy.reference import default_spec

    cuda, *_, engine = env
    first = _runner(engine, zero_copy=False)
    second = TensorRTRunner(tmp_path / "missing.plan")  # its sidecar is missing
    with pytest.raises(Exception, match="sidecar"):
        Policy(default_spec(), {"instruction_encoder": first, "policy": second}, None, "trt", "")
    assert not first.is_active and cuda.live_allocs == [] and cuda.stack() == []


def test_cuda_graph_is_captured_once_per_shape_and_launched(env):
    _, trt, cudart, engine = env
    with _runner(engine, cuda_graph=True, zero_copy=False) as runner:
        for _ in range(3):
            np.testing.assert_array_equal(runner.infer({"x": _x()})["y"], 2 * _x() + 1)
        assert cudart.calls.count("begin") == 1 and cudart.calls.count("launch") == 3
        runner.infer({"x": _x(4)})  # a new shape: captured again, the old graph freed
        assert cudart.calls.count("begin") == 2 and cudart.calls.count("exec_destroy") == 1
    assert cudart.execs_alive == 0 and cudart.graphs_alive == 0


def test_failed_capture_is_ended_and_reported(env):
    cuda, trt, cudart, engine = env
    trt.fail_execute.add("capture")
    with _runner(engine, cuda_graph=True, zero_copy=False) as runner:
        with pytest.raises(BackendError, match="run without --cuda-graph"):
            runner.infer({"x": _x()})
        assert cudart.calls[-2:] == ["begin", "end"]  # the capture was ended
        assert not trt.contexts[0].capturing and cudart.graphs_alive == 0
        assert cuda.stack() == []
        trt.fail_execute.clear()
        runner.cuda_graph = False
        np.testing.assert_array_equal(runner.infer({"x": _x()})["y"], 2 * _x() + 1)


def test_execute_failure_is_an_error(env):
    _, trt, _, engine = env
    trt.fail_execute.add("plain")
    with _runner(engine) as runner, pytest.raises(BackendError, match="execute_async_v3 failed"):
        runner.infer({"x": _x()})


def test_plugins_are_initialized_once_per_process(env, monkeypatch, tmp_path):
    from vla_edge.backends.trt import loader

    _, trt, _, _ = env
    monkeypatch.setattr(loader, "_PLUGINS", set())
    lib = tmp_path / "libplugins.so"
    lib.write_bytes(b"")
    loaded = []
    registry = type("R", (), {"load_library": lambda self, p: loaded.append(p) or object()})()
    for _ in range(3):
        loader.load_plugins(trt, None, registry, lib)
    assert trt.plugin_inits == 1 and loaded == [str(lib)]
    registry.load_library = lambda p: None
    monkeypatch.setattr(loader, "_PLUGINS", {"libnvinfer_plugin"})
    with pytest.raises(EngineBuildError, match="could not load the plugin library"):
        loader.load_plugins(trt, None, registry, lib)


def _sidecar(device="orin-agx-64gb", gpu="NVIDIA Jetson AGX Orin Developer Kit"):
    return Sidecar("engines/x.plan", "policy.onnx", "policy", device, "fp16", "10.3.0", "8.7",
                   "36.4.3", gpu=gpu)  # fmt: skip


def test_an_agx_engine_is_refused_on_an_orin_nx():
    nx = Machine("10.3.0", "8.7", "36.4.3", "NVIDIA Jetson Orin NX Engineering", "orin-nx-16gb")
    problems = mismatches(_sidecar(), nx)
    assert len(problems) == 1 and "built for orin-agx-64gb" in problems[0]
    with pytest.raises(DeviceError, match="--device orin-agx-64gb"):
        require_match(_sidecar(), nx, "b")
    same = Machine("10.3.0", "8.7", "36.4.3", "NVIDIA Jetson AGX Orin", "orin-agx-64gb")
    assert mismatches(_sidecar(), same) == []  # a production module, same profile
    assert mismatches(_sidecar(), Machine("10.3.0", "8.7", "36.4.3")) == []  # unknown: passes


def test_a_discrete_gpu_engine_is_refused_on_another_gpu_of_the_same_capability():
    car = _sidecar("cuda", "NVIDIA H100 80GB HBM3")
    h200 = Machine("10.3.0", "9.0", None, "NVIDIA H200", "cuda")
    car.compute_capability = "9.0"
    assert mismatches(car, h200) == ["built on a NVIDIA H100 80GB HBM3, this GPU is a NVIDIA H200"]
    assert mismatches(car, Machine("10.3.0", "9.0", None, "NVIDIA H100 80GB HBM3", "h100")) == []


class _Bundle:
    def __init__(self, tmp_path, devices):
        self.path = tmp_path
        self.manifest = {
            "engines": [
                {"role": "policy", "engine": f"engines/{d}-fp16.plan", "device": d} for d in devices
            ]
        }


def test_engines_are_picked_by_the_device_detected(tmp_path):
    from vla_edge.backends.trt.loader import choose_engines

    bundle = _Bundle(tmp_path, ["orin-agx-64gb", "orin-nx-16gb"])
    nx = Machine("10.3.0", "8.7", "36.4.3", "Jetson Orin NX", "orin-nx-16gb")
    assert [e["device"] for e in choose_engines(bundle, None, nx)] == ["orin-nx-16gb"]
    with pytest.raises(DeviceError, match="this machine is orin-nx-16gb"):
        choose_engines(bundle, "orin-agx", nx)
    with pytest.raises(DeviceError, match="--engine-device"):
        choose_engines(bundle, None, Machine())
    nano = Machine("10.3.0", "8.7", "36.4.3", "Jetson Orin Nano", "orin-nano-8gb")
    with pytest.raises(DeviceError, match="--device orin-nano-8gb"):
        choose_engines(bundle, None, nano)
    h100 = Machine("10.3.0", "9.0", None, "NVIDIA H100", "h100")
    assert [e["device"] for e in choose_engines(_Bundle(tmp_path, ["cuda"]), None, h100)] == [
        "cuda"
    ]


def test_timing_cache_that_does_not_load_is_an_error(tmp_path):
    from vla_edge.backends.trt.config import BuildOptions, plan_build
    from vla_edge.backends.trt.loader import EngineFromOnnx
    from vla_edge.bench.devices import get_device

    cache = tmp_path / "t.cache"
    cache.write_bytes(b"stale")
    plan = plan_build(BuildOptions(timing_cache=cache), [], False, get_device("orin-agx"))
    loader = EngineFromOnnx(tmp_path / "g.onnx", plan)

    class Config:
        def __init__(self, made, accepted):
            self.made, self.accepted = made, accepted

        def create_timing_cache(self, data):
            return self.made

        def set_timing_cache(self, cache, ignore_mismatch):
            return self.accepted

    with pytest.raises(EngineBuildError, match="could not be read"):
        loader._timing_cache(Config(None, True))
    with pytest.raises(EngineBuildError, match="another device or TensorRT version"):
        loader._timing_cache(Config(object(), False))
    assert loader._timing_cache(Config("cache", True)) == "cache"
