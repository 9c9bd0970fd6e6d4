"""On the Jetson Orin (JetPack 6.1/6.2: TensorRT 10.3, pycuda): what the fakes in
tests/backends/trt cannot show. Run there with

    .venv/bin/python -m pytest -q -rs -m jetson tests/jetson      # or jetson/test_kernels.sh

- the TensorRT runner infers on the control loop's worker thread (`run --chunking async`), not
  the thread that activated it, and agrees with ONNX Runtime;
- CUDA-graph capture gives the same actions as plain enqueue, and is really captured;
- zero-copy (mapped host memory) gives the same actions as device buffers;
- the engine sidecar records this Orin's model, and an engine claiming another Orin (AGX vs NX)
  is refused with the rebuild command;
- `build` ends with `validate`: the engine is recorded as validated, and `run` uses it quietly.

Everywhere else every test here skips with the reason. None of them has been run yet: no
Jetson was at hand while they were written (2026-12-02).
"""

from __future__ import annotations

import json
import shutil
import threading

import numpy as np
import pytest

from vla_edge.bench.jetson import detect
from vla_edge.deps import available

ON_JETSON = detect() is not None
HAS_TRT = available("tensorrt") and available("pycuda")
pytestmark = [
    pytest.mark.jetson,
    pytest.mark.skipif(not ON_JETSON, reason="not a Jetson (no /etc/nv_tegra_release)"),
    pytest.mark.skipif(
        not HAS_TRT, reason="TensorRT and pycuda are not installed (JetPack's python3-libnvinfer)"
    ),
]
INSTRUCTION = "pick up the red block"


@pytest.fixture(scope="module")
def built(tiny_bundle, tmp_path_factory):
    """A tiny bins bundle with FP16 engines built here for the detected Orin (build validates)."""
    from typer.testing import CliRunner

    from vla_edge.backends.trt.sidecar import machine_info
    from vla_edge.cli.main import app

    device = machine_info().device
    bundle = shutil.copytree(tiny_bundle("bins"), tmp_path_factory.mktemp("dev") / "b")
    res = CliRunner().invoke(
        app, ["build", str(bundle), "--device", device, "--precision", "fp16", "--json"]
    )
    assert res.exit_code == 0, res.output
    return bundle, device, json.loads(res.stdout)


def _observations(spec, n: int = 8):
    rng = np.random.default_rng(0)
    frames = {
        c.name: rng.integers(0, 256, (n, c.height, c.width, 3), np.uint8) for c in spec.cameras
    }
    state = rng.standard_normal((n, spec.state_dim)).astype(np.float32) if spec.state_dim else None
    return frames, state


def _actions(bundle, backend: str = "trt", **options):
    from vla_edge.backends.factory import RunnerOptions
    from vla_edge.policy.policy import Policy

    with Policy.load(bundle, backend=backend, options=RunnerOptions(**options)) as policy:
        frames, state = _observations(policy.spec)
        return policy.predict_batch(frames, INSTRUCTION, state), policy


def test_build_ends_with_a_passed_validation_of_the_engines(built):
    from vla_edge.bundle import Bundle
    from vla_edge.validate import engine_validation

    bundle, device, out = built
    assert out["validation"]["passed"], out["validation"]["reasons"]
    manifest = Bundle.load(bundle).manifest
    for e in manifest["engines"]:
        assert e["device"] == device
        assert engine_validation(manifest, e["engine"])["passed"]


def test_runner_infers_on_another_thread_than_the_one_that_activated_it(built):
    from vla_edge.policy.policy import Policy

    bundle, *_ = built
    ref, _ = _actions(bundle, "onnxrt")
    with Policy.load(bundle, backend="trt") as policy:
        frames, state = _observations(policy.spec)
        out: dict = {}

        def worker() -> None:
            try:
                out["actions"] = policy.predict_batch(frames, INSTRUCTION, state)
            except BaseException as exc:  # reported below, on the test's thread
                out["error"] = exc

        t = threading.Thread(target=worker, name="inference")
        t.start()
        t.join(60)
    assert "error" not in out, out.get("error")
    np.testing.assert_allclose(out["actions"], ref, atol=0.02 * float(np.abs(ref).max()) + 1e-3)


def test_run_with_async_chunking_on_trt(built, tmp_path):
    from typer.testing import CliRunner

    from vla_edge.cli.main import app

    bundle, *_ = built
    log = tmp_path / "actions.jsonl"
    args = ["run", str(bundle), "--backend", "trt", "--chunking", "async", "--camera"]
    args += ["pattern:64x64@30", "--actuator", f"file:{log}", "--cycles", "60", "--quiet", "--json"]
    args += ["--instruction", INSTRUCTION, "--state", "mean"]  # never guessed (issue 12)
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    assert "was never validated" not in res.output  # build validated the engines
    lines = log.read_text().splitlines()
    assert lines, "the actuator received no command"


def test_cuda_graph_gives_the_same_actions_and_is_captured(built):
    from vla_edge.backends.factory import RunnerOptions
    from vla_edge.policy.policy import Policy

    bundle, *_ = built
    plain, _ = _actions(bundle, cuda_graph=False)
    with Policy.load(bundle, backend="trt", options=RunnerOptions(cuda_graph=True)) as policy:
        frames, state = _observations(policy.spec)
        first = policy.predict_batch(frames, INSTRUCTION, state)
        assert policy.runners["policy"]._graph_exec is not None  # captured, then launched
        again = policy.predict_batch(frames, INSTRUCTION, state)
    np.testing.assert_allclose(first, plain, rtol=0, atol=1e-6)
    np.testing.assert_array_equal(again, first)


def test_zero_copy_gives_the_same_actions_as_device_buffers(built):
    bundle, *_ = built
    mapped, _ = _actions(bundle, zero_copy=True)
    copied, _ = _actions(bundle, zero_copy=False)
    np.testing.assert_allclose(mapped, copied, rtol=0, atol=1e-6)


def test_sidecar_names_this_orin_and_an_engine_for_another_is_refused(built, tmp_path):
    from vla_edge.backends.trt.sidecar import machine_info
    from vla_edge.bundle import Bundle
    from vla_edge.errors import DeviceError
    from vla_edge.policy.policy import Policy

    bundle, device, _ = built
    machine = machine_info()
    entry = Bundle.load(bundle).manifest["engines"][0]
    sidecar = json.loads((bundle / entry["sidecar"]).read_text())
    assert sidecar["gpu"] == machine.gpu and sidecar["device"] == device
    other = shutil.copytree(bundle, tmp_path / "other")
    data = dict(
        sidecar, device="orin-nx-16gb" if device.startswith("orin-agx") else "orin-agx-64gb"
    )
    fake = tmp_path / "sidecar.json"
    fake.write_text(json.dumps(data))
    Bundle.load(other).update(add_files={entry["sidecar"]: fake})  # hashes stay consistent
    with pytest.raises(DeviceError, match="vla-edge build"):
        Policy.load(other, backend="trt").close()
