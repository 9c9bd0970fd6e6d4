"""The JSON sidecar written beside every engine, and the check that an engine fits this machine.

A TensorRT engine runs only with the TensorRT version that built it, on a GPU of the same
compute capability; on a Jetson it also belongs to its L4T release. The sidecar records those,
the precision and build flags, and the per-layer precisions read back from the engine, so the
runtime can refuse a foreign engine with the command that rebuilds it.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from vla_edge.errors import BundleError, DeviceError

SIDECAR_FORMAT = 1


@dataclass
class Machine:
    tensorrt: str | None = None
    compute_capability: str | None = None  # "8.7"
    l4t: str | None = None  # "36.4.3"
    gpu: str | None = None  # the Jetson's device-tree model, or the discrete GPU's name
    device: str | None = None  # the device profile detected: orin-nx-16gb, h100, cuda, ...

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Sidecar:
    engine: str
    graph: str
    role: str
    device: str
    precision: str
    tensorrt: str
    compute_capability: str
    l4t: str | None = None
    gpu: str | None = None  # the GPU model it was built on (Machine.gpu)
    jetpack: str | None = None
    onnx_sha256: str = ""
    build: dict[str, Any] = field(default_factory=dict)
    layers: dict[str, Any] = field(default_factory=dict)
    io: list[dict[str, Any]] = field(default_factory=list)
    created_at: str = field(
        default_factory=lambda: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    )
    vla_edge: str = ""
    format: int = SIDECAR_FORMAT

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def save(self, path: Path) -> Path:
        path.write_text(json.dumps(self.to_dict(), indent=2) + "\n")
        return path

    @classmethod
    def load(cls, path: Path) -> Sidecar:
        if not path.is_file():
            raise BundleError(
                f"engine sidecar {path} is missing: rebuild the engine with "
                "`vla-edge build BUNDLE --device DEVICE`"
            )
        data = json.loads(path.read_text())
        if data.get("format") != SIDECAR_FORMAT:
            raise BundleError(
                f"{path} has sidecar format {data.get('format')!r}, expected "
                f"{SIDECAR_FORMAT}: rebuild the engine"
            )
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})


def sidecar_path(engine: Path) -> Path:
    return engine.with_suffix(".json")


def _release(version: str | None, parts: int) -> tuple[str, ...] | None:
    if not version:
        return None
    return tuple(re.findall(r"\d+", version)[:parts])


def mismatches(sidecar: Sidecar, machine: Machine) -> list[str]:
    """Why this engine cannot run here (empty when it can). Unknown machine facts pass."""
    out = []
    if machine.tensorrt and _release(sidecar.tensorrt, 3) != _release(machine.tensorrt, 3):
        out.append(f"built with TensorRT {sidecar.tensorrt}, this machine has {machine.tensorrt}")
    if machine.compute_capability and sidecar.compute_capability != machine.compute_capability:
        out.append(
            f"built for compute capability {sidecar.compute_capability}, this GPU is "
            f"{machine.compute_capability}"
        )
    if sidecar.l4t and machine.l4t and _release(sidecar.l4t, 2) != _release(machine.l4t, 2):
        out.append(f"built on L4T {sidecar.l4t}, this Jetson runs L4T {machine.l4t}")
    out += _model_mismatch(sidecar, machine)
    return out


def is_jetson_device(name: str | None) -> bool:
    return bool(name) and str(name).startswith("orin")


def _model_mismatch(sidecar: Sidecar, machine: Machine) -> list[str]:
    """The same compute capability is not the same GPU: an AGX Orin engine is tuned for (and
    may not run on) an Orin NX's GPU. Jetsons compare by device profile (module and memory);
    discrete GPUs by name."""
    built_on = sidecar.gpu or (sidecar.build or {}).get("gpu")
    here = f"{machine.device} ({machine.gpu})" if machine.gpu else str(machine.device)
    if is_jetson_device(sidecar.device) or is_jetson_device(machine.device):
        if machine.device and machine.device != sidecar.device:
            return [f"built for {sidecar.device} ({built_on or 'unknown model'}), this is {here}"]
        return []
    if built_on and machine.gpu and built_on != machine.gpu:
        return [f"built on a {built_on}, this GPU is a {machine.gpu}"]
    return []


def rebuild_command(bundle: Path | str, sidecar: Sidecar) -> str:
    return f"vla-edge build {bundle} --device {sidecar.device} --precision {sidecar.precision}"


def require_match(sidecar: Sidecar, machine: Machine, bundle: Path | str) -> None:
    problems = mismatches(sidecar, machine)
    if problems:
        raise DeviceError(
            f"engine {sidecar.engine} does not match this machine: {'; '.join(problems)}. "
            f"TensorRT engines only run where they were built: rebuild it here with "
            f"`{rebuild_command(bundle, sidecar)}`"
        )


def parse_l4t(text: str) -> str | None:
    """'# R36 (release), REVISION: 4.3, GCID: ...' (/etc/nv_tegra_release) -> '36.4.3'."""
    m = re.search(r"R(\d+)\s*\(release\),\s*REVISION:\s*([\d.]+)", text)
    return f"{m.group(1)}.{m.group(2)}" if m else None


def jetpack_for_l4t(l4t: str | None) -> str | None:
    """JetPack release of an L4T release (NVIDIA's JetPack archive)."""
    table = {"36.4.3": "6.2", "36.4.4": "6.2.1", "36.4": "6.1", "36.3": "6.0", "35.6": "5.1.4"}
    if not l4t:
        return None
    for key in sorted(table, key=len, reverse=True):
        if l4t == key or l4t.startswith(key + "."):
            return table[key]
    return None


def machine_info() -> Machine:
    """TensorRT version, compute capability (via libcudart) and L4T release of this machine."""
    from vla_edge.deps import available

    machine = Machine()
    if available("tensorrt"):
        import tensorrt as trt

        machine.tensorrt = trt.__version__
    machine.compute_capability = _compute_capability()
    release = Path("/etc/nv_tegra_release")
    if release.is_file():
        machine.l4t = parse_l4t(release.read_text(errors="replace"))
    machine.gpu, machine.device = detect_device(machine.compute_capability)
    return machine


def detect_device(compute_capability: str | None) -> tuple[str | None, str | None]:
    """(GPU model, device profile) of this machine: a Jetson's device-tree model and profile
    (orin-agx-64gb, orin-nx-16gb, ...), else a discrete GPU's name and `h100` or `cuda`."""
    from vla_edge.bench import jetson

    found = jetson.detect()
    if found is not None:
        return found.model, found.profile
    if compute_capability is None:
        return None, None
    from vla_edge.bench import nvml

    name = (nvml.device_info() or {}).get("name") or _cuda_device_name()
    return name, ("h100" if name and "H100" in name else "cuda")


def _cuda_device_name() -> str | None:
    """cudaDeviceProp.name (its first field, char[256]) through libcudart."""
    import ctypes

    from vla_edge.kernels.cudart import cudart

    lib = cudart()
    fn = getattr(lib, "cudaGetDeviceProperties_v2", None) or getattr(
        lib, "cudaGetDeviceProperties", None
    )
    if fn is None:
        return None
    props = ctypes.create_string_buffer(8192)  # larger than cudaDeviceProp in any CUDA 12
    if fn(props, 0) != 0:
        return None
    return props.raw[:256].split(b"\0", 1)[0].decode(errors="replace") or None


def _compute_capability() -> str | None:
    import ctypes

    from vla_edge.kernels.cudart import cudart, gpu_count

    if gpu_count() == 0:
        return None
    major, minor = ctypes.c_int(0), ctypes.c_int(0)
    lib = cudart()
    # cudaDevAttrComputeCapabilityMajor = 75, ...Minor = 76
    if lib.cudaDeviceGetAttribute(ctypes.byref(major), 75, 0) or lib.cudaDeviceGetAttribute(
        ctypes.byref(minor), 76, 0
    ):
        return None
    return f"{major.value}.{minor.value}"
