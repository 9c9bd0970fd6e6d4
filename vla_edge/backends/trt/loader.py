"""EngineFromOnnx (build), EngineFromPath (load), `build_bundle` (what `vla-edge build` runs) and
`runners_for_bundle` (what `Policy.load(..., backend="trt")` uses). TensorRT 10.3 Python API;
tensorrt is imported inside the functions that need it.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vla_edge.backends.trt.config import BuildOptions, BuildPlan, engine_name, plan_build
from vla_edge.backends.trt.sidecar import Machine, Sidecar, machine_info, sidecar_path
from vla_edge.errors import DependencyError, DeviceError, EngineBuildError

TRT_MISSING = (
    "TensorRT not found: build on the Orin, install with `pip install 'vla-edge[trt]'` or "
    "JetPack's python3-libnvinfer (`sudo apt install python3-libnvinfer`)"
)
PLUGIN_ENV = "VLA_EDGE_PLUGIN_LIB"


def require_tensorrt() -> Any:
    try:
        import tensorrt as trt
    except ImportError as exc:
        raise DependencyError(f"{TRT_MISSING} (import error: {exc})") from exc
    return trt


def plugin_library(explicit: Path | str | None = None) -> Path | None:
    """The vla-edge plugin library: explicit path, $VLA_EDGE_PLUGIN_LIB, or none."""
    path = explicit or os.environ.get(PLUGIN_ENV)
    if not path:
        return None
    path = Path(path)
    if not path.is_file():
        raise EngineBuildError(
            f"plugin library {path} not found: build it with "
            "`jetson/build_kernels.sh` (CMake, needs TensorRT headers)"
        )
    return path


_PLUGINS: set[str] = set()  # what this process has registered: TensorRT's, then our library


def load_plugins(trt: Any, logger: Any, registry: Any, library: Path | None) -> None:
    """Register TensorRT's own plugins and our plugin library, once per process (the plugin
    registry is process-wide: builders and runtimes share it)."""
    if "libnvinfer_plugin" not in _PLUGINS:
        if not trt.init_libnvinfer_plugins(logger, ""):
            raise EngineBuildError("TensorRT could not initialize its plugins (libnvinfer_plugin)")
        _PLUGINS.add("libnvinfer_plugin")
    if library is not None and str(library) not in _PLUGINS:
        if registry.load_library(str(library)) is None:  # finds getCreators() in the library
            raise EngineBuildError(
                f"TensorRT could not load the plugin library {library}: rebuild it with "
                "`jetson/build_kernels.sh` against this TensorRT"
            )
        _PLUGINS.add(str(library))


def _logger(trt: Any) -> Any:
    return trt.Logger(trt.Logger.WARNING)


def apply_plan(trt: Any, builder: Any, network: Any, config: Any, plan: BuildPlan) -> None:
    """Translate a BuildPlan into IBuilderConfig settings and an optimization profile."""
    for flag in plan.flags:
        config.set_flag(getattr(trt.BuilderFlag, flag))
    if plan.workspace_bytes:
        config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, plan.workspace_bytes)
    if plan.dla_core is not None:
        config.default_device_type = trt.DeviceType.DLA
        config.DLA_core = plan.dla_core
    config.profiling_verbosity = trt.ProfilingVerbosity.DETAILED
    config.builder_optimization_level = plan.optimization_level
    dynamic = [
        network.get_input(i)
        for i in range(network.num_inputs)
        if any(d < 0 for d in network.get_input(i).shape)
    ]
    missing = [t.name for t in dynamic if t.name not in plan.profile]
    if missing:
        raise EngineBuildError(f"inputs {missing} have dynamic axes but no profile shapes")
    if dynamic:
        profile = builder.create_optimization_profile()
        for tensor in dynamic:
            lo, opt, hi = plan.profile[tensor.name]
            profile.set_shape(tensor.name, lo, opt, hi)
        config.add_optimization_profile(profile)


def _parse(trt: Any, network: Any, logger: Any, onnx_path: Path) -> None:
    parser = trt.OnnxParser(network, logger)
    if parser.parse_from_file(str(onnx_path)):
        return
    lines = []
    for i in range(parser.num_errors):
        err = parser.get_error(i)
        node = getattr(err, "node_name", lambda: "")() or str(getattr(err, "node", lambda: "")())
        op = getattr(err, "node_operator", lambda: "")()
        lines.append(f"node {node} ({op}): {err.desc()}")
    raise EngineBuildError(
        f"TensorRT could not parse {onnx_path.name}: "
        + "; ".join(lines)
        + ". Run `vla-edge check` on the bundle for fixes"
    )


class EngineFromOnnx:
    """Callable loader: `EngineFromOnnx(onnx_path, plan)()` -> serialized engine bytes."""

    def __init__(self, onnx_path: Path, plan: BuildPlan) -> None:
        self.onnx_path, self.plan = Path(onnx_path), plan

    def __call__(self) -> bytes:
        trt = require_tensorrt()
        logger = _logger(trt)
        builder = trt.Builder(logger)
        lib = Path(self.plan.plugin_library) if self.plan.plugin_library else None
        load_plugins(trt, logger, builder.get_plugin_registry(), lib)
        network = builder.create_network(0)  # TensorRT 10: explicit batch is the only mode
        _parse(trt, network, logger, self.onnx_path)
        config = builder.create_builder_config()
        apply_plan(trt, builder, network, config, self.plan)
        cache = self._timing_cache(config)
        serialized = builder.build_serialized_network(network, config)
        if serialized is None:
            raise EngineBuildError(
                f"TensorRT failed to build {self.onnx_path.name} with "
                f"{self.plan.flags}: see the TensorRT log above"
            )
        if cache is not None:
            _write_atomic(
                Path(self.plan.timing_cache), bytes(config.get_timing_cache().serialize())
            )
        return bytes(serialized)

    def _timing_cache(self, config: Any) -> Any:
        if not self.plan.timing_cache:
            return None
        path = Path(self.plan.timing_cache)
        cache = config.create_timing_cache(path.read_bytes() if path.is_file() else b"")
        if cache is None:
            raise EngineBuildError(
                f"timing cache {path} could not be read by this TensorRT (corrupt, or from "
                "another version): delete it or pass another --timing-cache"
            )
        if not config.set_timing_cache(cache, ignore_mismatch=False):
            raise EngineBuildError(
                f"timing cache {path} was made on another device or TensorRT version: delete "
                "it or pass another --timing-cache"
            )
        return cache


class EngineFromPath:
    """Callable loader: deserialize an engine file (plugins loaded first)."""

    def __init__(self, path: Path, plugin_lib: Path | None = None) -> None:
        self.path, self.plugin_lib = Path(path), plugin_lib

    def __call__(self) -> tuple[Any, Any]:
        trt = require_tensorrt()
        logger = _logger(trt)
        runtime = trt.Runtime(logger)
        load_plugins(trt, logger, runtime.get_plugin_registry(), self.plugin_lib)
        engine = runtime.deserialize_cuda_engine(self.path.read_bytes())
        if engine is None:
            raise EngineBuildError(f"TensorRT could not deserialize {self.path}: rebuild it")
        return runtime, engine


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.replace(tmp, path)


@dataclass
class BuiltEngine:
    role: str
    engine: str
    sidecar: Sidecar
    seconds: float


def choose_engines(bundle: Any, asked: str | None, machine: Machine) -> list[dict[str, Any]]:
    """The bundle's engines for this machine: those built for the device detected here (an
    explicit `asked` device must be that one); with no GPU detected, those asked for, or the only
    device the bundle has engines for."""
    from vla_edge.backends.trt.sidecar import is_jetson_device
    from vla_edge.bench.devices import get_device

    engines = bundle.manifest.get("engines", [])
    devices = sorted({e["device"] for e in engines})
    if not engines:
        raise DeviceError(
            f"bundle {bundle.path} has no TensorRT engines: build them on the "
            f"target with `vla-edge build {bundle.path} --device orin-agx`"
        )
    here = machine.device
    wanted = get_device(asked).name if asked else None
    if here and wanted and wanted != here and (is_jetson_device(here) or wanted != "cuda"):
        raise DeviceError(
            f"engines for {wanted} asked, but this machine is {here} ({machine.gpu}): an engine "
            f"runs only on the device it was built for; build here with `vla-edge build "
            f"{bundle.path} --device {here}`"
        )
    if wanted is None and here:
        wanted = here if here in devices else None
        if wanted is None and not is_jetson_device(here) and "cuda" in devices:
            wanted = "cuda"  # built with --device cuda on a discrete GPU; the sidecar decides
    if wanted is None and not here and len(devices) == 1:
        wanted = devices[0]
    if wanted is None and here:
        raise DeviceError(
            f"bundle has engines for {devices}, none for this machine ({here}): run "
            f"`vla-edge build {bundle.path} --device {here}`"
        )
    if wanted is None:
        raise DeviceError(
            f"bundle has engines for {devices} and no GPU was detected here to choose: pass "
            "--engine-device DEVICE"
        )
    chosen = [e for e in engines if e["device"] == wanted]
    if not chosen:
        raise DeviceError(
            f"bundle has engines for {devices}, not for {wanted}: run "
            f"`vla-edge build {bundle.path} --device {wanted}`"
        )
    return chosen


def runners_for_bundle(
    bundle: Any, device: str | None = None, machine: Machine | None = None, **runner_kwargs: Any
) -> dict:
    """A TensorRTRunner per graph role, from the engines `vla-edge build` wrote for the device
    detected here (or `device`): see `choose_engines`. Runners are made, not activated."""
    from vla_edge.backends.trt.runner import TensorRTRunner

    chosen = choose_engines(bundle, device, machine or machine_info())
    return {
        e["role"]: TensorRTRunner(
            bundle.path / e["engine"], bundle_path=bundle.path, **runner_kwargs
        )
        for e in chosen
    }


def build_bundle(path: Path, options: BuildOptions) -> list[BuiltEngine]:
    """Check, then build every graph of the bundle into engines/ with sidecars."""
    from vla_edge.backends.trt.build import build_all

    return build_all(Path(path), options)


__all__ = [
    "EngineFromOnnx",
    "EngineFromPath",
    "build_bundle",
    "runners_for_bundle",
    "require_tensorrt",
    "sidecar_path",
    "machine_info",
    "engine_name",
    "plan_build",
]
