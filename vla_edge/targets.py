"""`vla-edge check`: will this bundle build and run with TensorRT on that device?

Checks every ONNX graph of a bundle (or a single .onnx file) without TensorRT: opset, ops and
their restrictions against TensorRT 10.3's ONNX parser, dtypes (no FP8/FP4 on sm_87), Q/DQ
patterns TensorRT fuses, and whether weights + activations fit the device's memory. Each
problem names the graph and node and says how to fix it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vla_edge.backends.trt.graphutil import GraphView, Problem
from vla_edge.bench.devices import DeviceProfile, get_device
from vla_edge.errors import BundleError, InputError

PRECISIONS = ("fp32", "fp16", "int8", "best", "fp8", "fp4")
SEVERITY_ORDER = ("error", "warning", "info")


@dataclass
class CheckOptions:
    device: str = "orin-agx"
    precision: str | None = None  # what `build` will be asked for; None: from the bundle
    dla: int | None = None
    batch: int = 1
    dims: dict[str, int] = field(default_factory=dict)  # symbolic dims other than batch

    def __post_init__(self) -> None:
        if self.precision is not None and self.precision.lower() not in PRECISIONS:
            raise InputError(f"precision must be one of {PRECISIONS}, got {self.precision!r}")
        if self.batch < 1:
            raise InputError(f"batch must be >= 1, got {self.batch}")
        if self.dla is not None and self.dla < 0:
            raise InputError(f"--dla takes a DLA core index >= 0, got {self.dla}")


@dataclass
class CheckReport:
    target: str
    device: DeviceProfile
    precision: str
    graphs: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    memory: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not any(p.severity == "error" for p in self.problems)

    def count(self, severity: str) -> int:
        return sum(p.severity == severity for p in self.problems)

    def summarized(self, per_code: int = 3) -> list[Problem]:
        """Problems for reading: at most `per_code` of one code per graph, then a count."""
        out: list[Problem] = []
        seen: dict[tuple[str, str], int] = {}
        for p in self.problems:
            key = (p.graph, p.code)
            seen[key] = seen.get(key, 0) + 1
            if seen[key] <= per_code:
                out.append(p)
        for (graph, code), n in seen.items():
            if n > per_code:
                severity = next(p.severity for p in self.problems if p.code == code)
                more = f"... and {n - per_code} more [{code}] like the above (--json lists all)"
                out.append(Problem(severity, code, more, graph=graph))
        out.sort(key=lambda p: SEVERITY_ORDER.index(p.severity))
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "device": self.device.name,
            "precision": self.precision,
            "tensorrt": self.device.tensorrt,
            "compute_capability": self.device.to_dict()["compute_capability"],
            "ok": self.ok,
            "graphs": self.graphs,
            "errors": self.count("error"),
            "warnings": self.count("warning"),
            "problems": [p.to_dict() for p in self.problems],
            "memory": self.memory,
        }


def bundle_graphs(path: Path) -> tuple[list[Path], dict[str, Any]]:
    """The ONNX files of a bundle (from manifest.json) or [path] for a single .onnx file."""
    from vla_edge.bundle import inside

    path = Path(path)
    if path.is_file() and path.suffix == ".onnx":
        return [path], {}
    manifest_path = path / "manifest.json"
    if not manifest_path.is_file():
        raise BundleError(
            f"{path} is neither a bundle (no manifest.json) nor an .onnx file: "
            "make one with `vla-edge export CKPT -o OUT`"
        )
    manifest = _verified_manifest(path)
    entries = manifest.get("graphs", [])
    if isinstance(entries, dict):
        entries = [
            {"name": k, **v} if isinstance(v, dict) else {"file": v} for k, v in entries.items()
        ]
    files = []
    for entry in entries:
        rel = entry.get("file") or entry.get("path") or entry.get("name")
        if not rel:
            raise BundleError(f"{manifest_path}: graph entry without a 'file': {entry}")
        rel = rel if str(rel).endswith(".onnx") else f"{rel}.onnx"
        file = inside(path, rel, "graph")
        if not file.is_file():
            raise BundleError(f"{manifest_path} lists {rel} but {file} is missing: re-export")
        files.append(file)
    if not files:
        raise BundleError(f"{manifest_path} lists no graphs: re-export the bundle")
    return files, manifest


def _verified_manifest(path: Path) -> dict[str, Any]:
    """A vla-edge bundle is verified as `predict` verifies it (manifest hash, every file's size
    and sha256, paths inside); a hand-made manifest that records no hashes is only parsed."""
    from vla_edge.bundle import MANIFEST_HASH, Bundle, read_json_object

    manifest = read_json_object(path / "manifest.json")
    if MANIFEST_HASH in manifest or "files" in manifest:
        return Bundle.load(path).manifest
    return manifest


def _manifest_precision(manifest: dict[str, Any]) -> str:
    # "mixed" graphs carry Q/DQ (INT8 with float islands); "int8-dynamic" is ONNX Runtime only
    # (DynamicQuantizeLinear/MatMulInteger) and is checked as what TensorRT would be asked: int8
    alias = {"mixed": "int8", "int8-dynamic": "int8"}
    found = {
        alias.get(str(g.get("precision", "")).lower(), str(g.get("precision", "")).lower())
        for g in manifest.get("graphs", [])
        if isinstance(g, dict)
    }
    for p in ("fp4", "fp8", "int8", "fp16"):
        if p in found:
            return p
    return "fp16"


def check(target: Path, options: CheckOptions, device: DeviceProfile | None = None) -> CheckReport:
    """`device`: a profile made elsewhere (e.g. `deploy`'s, from a probed robot) instead of the
    named `options.device`."""
    import onnx

    from vla_edge.backends.trt.memory import check_memory, estimate

    device = device or get_device(options.device)
    files, manifest = bundle_graphs(target)
    precision = (options.precision or _manifest_precision(manifest)).lower()
    report = CheckReport(str(target), device, precision, graphs=[f.name for f in files])
    report.problems += _device_problems(device, precision, options)
    total = None
    for file in files:
        view = GraphView(_load_graph(onnx, file))
        found = _graph_problems(view, device)
        found += _precision_problems(view, precision)
        for p in found:
            p.graph = p.graph or file.name
        report.problems += found
        est = estimate(view, precision, options.batch, options.dims)
        total = est if total is None else total + est
    if total is not None:
        report.memory = total.to_dict()
        report.problems += check_memory(total, device, options.batch)
    report.problems.sort(key=lambda p: SEVERITY_ORDER.index(p.severity))
    return report


def _load_graph(onnx, file: Path):
    """The ONNX model in `file`, or a BundleError that names the file (a truncated or altered
    graph makes protobuf raise DecodeError, which says nothing of where)."""
    try:
        return onnx.load(str(file))
    except Exception as exc:  # google.protobuf DecodeError, or onnx's own errors
        raise BundleError(
            f"{file} is not a readable ONNX graph ({type(exc).__name__}: {exc}); the file is "
            "truncated or altered: restore it or re-export the bundle"
        ) from None


def _graph_problems(view: GraphView, device: DeviceProfile) -> list[Problem]:
    from vla_edge.backends.trt import graphcheck, qdq

    return (
        graphcheck.check_opset(view)
        + graphcheck.check_ops(view)
        + graphcheck.check_dtypes(view, device)
        + qdq.check_qdq(view)
        + graphcheck.check_io(view)
    )


def _precision_problems(view: GraphView, precision: str) -> list[Problem]:
    from vla_edge.backends.trt.qdq import has_qdq

    if precision == "int8" and not has_qdq(view):
        return [
            Problem(
                "warning",
                "int8-no-qdq",
                "int8 requested but the graph has no Q/DQ nodes: TensorRT 10.3 would need "
                "implicit INT8 calibration (deprecated) and builds it FP16/FP32 here",
                "quantize first: `vla-edge quantize BUNDLE --precision int8 --calib DEMOS`",
            )
        ]
    return []


def _device_problems(device: DeviceProfile, precision: str, options: CheckOptions) -> list[Problem]:
    out = []
    if device.kind == "host":
        out.append(
            Problem(
                "error",
                "device",
                "the host CPU has no TensorRT",
                "use `--backend onnxrt` on this machine, or check for a GPU device",
            )
        )
    if precision in ("fp8", "fp4") and not device.supports(precision):
        need = "sm_89 (Ada/Hopper)" if precision == "fp8" else "sm_100 (Blackwell)"
        out.append(
            Problem(
                "error",
                "precision",
                f"{precision.upper()} requested but {device.title} ({device.sm}) has no "
                f"{precision.upper()} tensor cores; it needs {need} or newer",
                "build with --precision int8 (QDQ) or fp16",
            )
        )
    if options.dla is not None and options.dla >= device.dla_cores:
        cores = f"DLA cores 0..{device.dla_cores - 1}" if device.dla_cores else "no DLA"
        out.append(
            Problem(
                "error",
                "dla",
                f"--dla {options.dla} but {device.title} has {cores}",
                "drop --dla (run on the GPU) or pick an existing core",
            )
        )
    if options.dla is not None and precision not in ("fp16", "int8"):
        out.append(
            Problem(
                "warning",
                "dla",
                f"DLA runs FP16/INT8 only; {precision} layers fall back to the GPU",
                "use --precision fp16 or int8 with --dla",
            )
        )
    return out
