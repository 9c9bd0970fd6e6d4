"""`vla-edge build`: check the bundle for the device, then build each graph into
engines/<device>-<precision>.plan with a sidecar, reading the layer precisions back with the
engine inspector so a silent FP32 fallback is reported."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from vla_edge.backends.trt.config import BuildOptions, engine_name, plan_build
from vla_edge.backends.trt.inspect import precision_report, read_engine_layers
from vla_edge.backends.trt.loader import (
    BuiltEngine,
    EngineFromOnnx,
    EngineFromPath,
    plugin_library,
    require_tensorrt,
)
from vla_edge.backends.trt.sidecar import Machine, Sidecar, jetpack_for_l4t, machine_info
from vla_edge.bench.devices import DeviceProfile, get_device
from vla_edge.errors import DeviceError, EngineBuildError


def preflight(path: Path, options: BuildOptions) -> None:
    """Run `vla-edge check` for the same device/precision; stop on errors."""
    from vla_edge.targets import CheckOptions, check

    report = check(
        path,
        CheckOptions(
            device=options.device,
            precision=options.precision,
            dla=options.dla,
            batch=options.max_batch,
        ),
    )
    errors = [p for p in report.problems if p.severity == "error"]
    if errors:
        shown = "; ".join(f"{p.graph}:{p.node} {p.message}" for p in errors[:3])
        raise EngineBuildError(
            f"{len(errors)} problem(s) would stop TensorRT: {shown}. Run "
            f"`vla-edge check {path} --device {options.device}` for fixes"
        )


def require_machine_matches(device: DeviceProfile, machine: Machine) -> None:
    """Engines are specific to the GPU that builds them: build on the target itself."""
    want = ".".join(map(str, device.compute_capability)) if device.compute_capability else None
    if machine.compute_capability is None:
        raise DeviceError(
            "no CUDA GPU found: TensorRT engines must be built on the target "
            f"({device.title}); run `vla-edge build` there"
        )
    if want and machine.compute_capability != want:
        raise DeviceError(
            f"building for {device.name} (compute capability {want}) on a GPU of "
            f"compute capability {machine.compute_capability}: build on the "
            f"{device.title} itself, or pick --device cuda"
        )
    if device.kind == "jetson" and machine.device and machine.device != device.name:
        raise DeviceError(
            f"building for {device.name} on a {machine.device} ({machine.gpu}): an engine is "
            f"tuned for the GPU that builds it; build on the {device.title} itself, or pass "
            f"--device {machine.device}"
        )


def _io(trt: Any, engine: Any) -> list[dict[str, Any]]:
    out = []
    for i in range(engine.num_io_tensors):
        name = engine.get_tensor_name(i)
        out.append(
            {
                "name": name,
                "mode": engine.get_tensor_mode(name).name,
                "dtype": str(engine.get_tensor_dtype(name)).split(".")[-1],
                "shape": list(engine.get_tensor_shape(name)),
            }
        )
    return out


def inspect_plan(trt: Any, plan_file: Path, profile: dict, lib: Path | None) -> tuple[list, list]:
    """Layer precisions (with the opt shapes set, so formats are concrete) and IO of an engine."""
    _runtime, engine = EngineFromPath(plan_file, lib)()
    context = engine.create_execution_context()
    for name, (_lo, opt, _hi) in profile.items():
        context.set_input_shape(name, opt)
    return read_engine_layers(trt, engine, context), _io(trt, engine)


def _graph_build(
    bundle: Any,
    graph: dict,
    options: BuildOptions,
    device: DeviceProfile,
    machine: Machine,
    tmp: Path,
) -> tuple[BuiltEngine, dict[str, Path]]:
    import onnx

    from vla_edge.backends.trt.graphutil import GraphView
    from vla_edge.backends.trt.qdq import has_qdq

    trt = require_tensorrt()
    onnx_path = bundle.path / graph["file"]
    qdq = has_qdq(GraphView(onnx.load(str(onnx_path), load_external_data=False)))
    plan = plan_build(options, graph.get("inputs", []), qdq, device)
    start = time.perf_counter()
    data = EngineFromOnnx(onnx_path, plan)()
    seconds = time.perf_counter() - start
    tmp = tmp / graph["role"]
    tmp.mkdir()
    plan_file = tmp / "engine.plan"
    plan_file.write_bytes(data)
    lib = Path(plan.plugin_library) if plan.plugin_library else None
    layers, io = inspect_plan(trt, plan_file, plan.profile, lib)
    rel = engine_name(device, options.precision, graph["role"])
    sidecar = Sidecar(
        engine=rel,
        graph=graph["file"],
        role=graph["role"],
        device=device.name,
        precision=options.precision,
        tensorrt=machine.tensorrt or trt.__version__,
        compute_capability=machine.compute_capability or "",
        l4t=machine.l4t,
        gpu=machine.gpu,
        jetpack=jetpack_for_l4t(machine.l4t),
        onnx_sha256=graph.get("sha256", ""),
        build={**plan.to_dict(), "seconds": round(seconds, 1), "gpu": machine.gpu},
        layers=precision_report(layers, options.precision),
        io=io,
        vla_edge=_version(),
    )
    json_file = sidecar.save(tmp / "engine.json")
    files = {rel: plan_file, str(Path(rel).with_suffix(".json")): json_file}
    return BuiltEngine(graph["role"], rel, sidecar, seconds), files


def _version() -> str:
    from vla_edge import __version__

    return __version__


def build_all(path: Path, options: BuildOptions) -> list[BuiltEngine]:
    from vla_edge.bundle import Bundle

    require_tensorrt()  # off-device: the clear DependencyError, before any work
    bundle = Bundle.load(path)
    device = get_device(options.device)
    preflight(path, options)
    machine = machine_info()
    require_machine_matches(device, machine)
    options.plugin_library = plugin_library(options.plugin_library)
    built, files = [], {}
    with tempfile.TemporaryDirectory(prefix="vla-edge-build-") as tmp:
        for graph in bundle.graphs:
            engine, new_files = _graph_build(bundle, graph, options, device, machine, Path(tmp))
            built.append(engine)
            files.update(new_files)
        _record(bundle, built, files, device, options)
    return built


def _record(bundle: Any, built: list[BuiltEngine], files: dict, device, options) -> None:
    """The engines and sidecars into the bundle, and their manifest entries (replacing those of
    the same name, which lose their validation: `validate` runs on the new engines)."""
    kept = [
        e
        for e in bundle.manifest.get("engines", [])
        if e.get("engine") not in {b.engine for b in built}
    ]
    entries = kept + [
        {
            "role": b.role,
            "engine": b.engine,
            "device": device.name,
            "precision": options.precision,
            "sidecar": str(Path(b.engine).with_suffix(".json")),
            "fp32_fallback_layers": len(b.sidecar.layers.get("fp32_fallback", [])),
        }
        for b in built
    ]
    validation = dict(bundle.manifest.get("validation") or {})
    if validation.get("engines"):  # a rebuilt engine is not the one that was validated
        rebuilt = {b.engine for b in built}
        validation["engines"] = {k: v for k, v in validation["engines"].items() if k not in rebuilt}
    bundle.update(add_files=files, engines=entries, validation=validation)
