"""TensorRT paths without TensorRT: clear errors, no TensorRT object is ever constructed here.
The real build/run tests are marked trt and skip unless tensorrt and pycuda import."""

from __future__ import annotations

import shutil

import pytest

from vla_edge.deps import available
from vla_edge.errors import DependencyError, DeviceError

HAS_TRT = available("tensorrt") and available("pycuda")
needs_trt = pytest.mark.skipif(
    not HAS_TRT,
    reason="TensorRT and pycuda are not installed (they exist on the Jetson with JetPack 6.1/6.2)",
)


@pytest.mark.skipif(available("tensorrt"), reason="TensorRT is installed here")
def test_build_off_device_raises_the_install_hint(tiny_bundle, tmp_path):
    from vla_edge.backends.trt.config import BuildOptions
    from vla_edge.backends.trt.loader import build_bundle

    bundle = shutil.copytree(tiny_bundle("bins"), tmp_path / "b")
    with pytest.raises(DependencyError) as info:
        build_bundle(bundle, BuildOptions(device="orin-agx"))
    msg = str(info.value)
    assert "TensorRT not found: build on the Orin" in msg
    assert "pip install 'vla-edge[trt]'" in msg and "python3-libnvinfer" in msg
    assert not (bundle / "engines").exists()


@pytest.mark.skipif(available("tensorrt"), reason="TensorRT is installed here")
def test_runner_off_device_raises_dependency_error(tmp_path):
    from vla_edge.backends.trt.runner import TensorRTRunner

    runner = TensorRTRunner(tmp_path / "engines" / "x.plan")
    with pytest.raises(DependencyError, match="TensorRT not found"):
        runner.activate()
    assert not runner.is_active


@pytest.fixture(autouse=True)
def _no_gpu_detected(monkeypatch):
    """Engine choice depends on the GPU detected; these tests describe a machine without one."""
    from vla_edge.backends.trt import loader
    from vla_edge.backends.trt.sidecar import Machine

    monkeypatch.setattr(loader, "machine_info", Machine)


def test_bundle_without_engines_names_the_build_command(tiny_bundle):
    from vla_edge.backends.trt.loader import runners_for_bundle
    from vla_edge.bundle import Bundle

    with pytest.raises(DeviceError, match="vla-edge build"):
        runners_for_bundle(Bundle.load(tiny_bundle("bins")))


def test_engine_for_another_device_is_refused(tiny_bundle):
    from vla_edge.backends.trt.loader import runners_for_bundle
    from vla_edge.bundle import Bundle

    bundle = Bundle.load(tiny_bundle("bins"))
    bundle.manifest = {
        **bundle.manifest,
        "engines": [
            {"role": "policy", "engine": "engines/orin-nx-16gb-fp16.plan", "device": "orin-nx-16gb"}
        ],
    }
    with pytest.raises(DeviceError, match="--device orin-agx-64gb"):
        runners_for_bundle(bundle, "orin-agx")
    runners = runners_for_bundle(bundle, "orin-nx")  # constructing a runner touches no TensorRT
    assert set(runners) == {"policy"} and not runners["policy"].is_active


def test_building_for_orin_on_another_gpu_is_refused():
    from vla_edge.backends.trt.build import require_machine_matches
    from vla_edge.backends.trt.sidecar import Machine
    from vla_edge.bench.devices import get_device

    with pytest.raises(DeviceError, match="build on the"):
        require_machine_matches(get_device("orin-agx"), Machine("10.3.0", "9.0"))
    with pytest.raises(DeviceError, match="no CUDA GPU"):
        require_machine_matches(get_device("orin-agx"), Machine("10.3.0", None))
    require_machine_matches(get_device("orin-agx"), Machine("10.3.0", "8.7"))


@pytest.mark.trt
@needs_trt
def test_build_and_run_tiny_bundle_on_device(tiny_bundle, tmp_path):
    """On the Orin: build FP16 engines, check the sidecar, run and compare with ONNX Runtime."""
    import numpy as np

    from vla_edge.backends.trt.config import BuildOptions
    from vla_edge.backends.trt.loader import build_bundle
    from vla_edge.policy.policy import Policy

    bundle = shutil.copytree(tiny_bundle("bins"), tmp_path / "b")
    built = build_bundle(bundle, BuildOptions(device="cuda", precision="fp16"))
    assert {b.role for b in built} == {"policy", "instruction_encoder"}
    frames = {"front": np.zeros((64, 64, 3), np.uint8)}
    state = np.zeros(8, np.float32)
    with Policy.load(bundle, backend="onnxrt") as ref, Policy.load(bundle, backend="trt") as trt:
        a, b = ref.predict(frames, "pick", state), trt.predict(frames, "pick", state)
    assert np.abs(a - b).max() <= 0.02 * np.abs(a).max() + 1e-3
