"""Plan a TensorRT build without TensorRT: which builder flags, which optimization profile,
which DLA settings, which file names. `loader.apply_plan` turns a BuildPlan into TensorRT
calls; everything decided here is tested on machines without TensorRT.

Precision rules (TensorRT 10.3, weakly typed networks):
- fp32: no precision flag.    fp16: FP16.
- int8: explicit quantization from the graph's Q/DQ (INT8 + FP16, so layers between Q/DQ
  pairs run FP16 instead of FP32); refused without Q/DQ (implicit calibration is deprecated).
- best: FP16, plus INT8 when the graph has Q/DQ.
DLA: default device DLA, the core, GPU_FALLBACK; DLA needs FP16 or INT8 and build-time shapes,
so the batch profile is fixed to max_batch.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from vla_edge.bench.devices import DeviceProfile
from vla_edge.errors import EngineBuildError, InputError

BUILD_PRECISIONS = ("fp32", "fp16", "int8", "best")
MIB = 1 << 20


@dataclass
class BuildOptions:
    device: str = "orin-agx"
    precision: str = "fp16"
    sparsity: bool = False
    dla: int | None = None
    workspace_mb: int | None = None
    timing_cache: Path | None = None
    max_batch: int = 1
    opt_batch: int | None = None
    plugin_library: Path | None = None
    optimization_level: int = 3
    dims: dict[str, int] = field(default_factory=dict)  # values for non-batch symbolic dims

    def __post_init__(self) -> None:
        self.precision = self.precision.lower()
        if self.precision not in BUILD_PRECISIONS:
            raise InputError(
                f"--precision must be one of {BUILD_PRECISIONS}, got {self.precision!r}"
                + (" (sm_87 has no FP8/FP4)" if self.precision in ("fp8", "fp4") else "")
            )
        if self.max_batch < 1 or (
            self.opt_batch is not None and not 1 <= self.opt_batch <= self.max_batch
        ):
            raise InputError(
                f"need 1 <= opt_batch <= max_batch, got {self.opt_batch}/{self.max_batch}"
            )
        if self.workspace_mb is not None and self.workspace_mb <= 0:
            raise InputError(
                f"--workspace must be a positive number of MB, got {self.workspace_mb}"
            )
        if self.dla is not None and self.dla < 0:
            raise InputError(f"--dla takes a DLA core index >= 0, got {self.dla}")
        if not 0 <= self.optimization_level <= 5:
            raise InputError(f"optimization level must be 0..5, got {self.optimization_level}")


@dataclass
class BuildPlan:
    device: str
    precision: str
    flags: list[str]
    profile: dict[str, tuple[list[int], list[int], list[int]]]  # input -> (min, opt, max)
    dla_core: int | None = None
    workspace_bytes: int | None = None
    timing_cache: str | None = None
    plugin_library: str | None = None
    optimization_level: int = 3
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _flags(
    options: BuildOptions, has_qdq: bool, device: DeviceProfile
) -> tuple[list[str], list[str]]:
    p, notes = options.precision, []
    if p == "int8" and not has_qdq:
        raise EngineBuildError(
            "--precision int8 needs a Q/DQ (explicitly quantized) bundle and this one has no "
            "QuantizeLinear/DequantizeLinear nodes: run `vla-edge quantize BUNDLE --precision "
            "int8 --calib DEMOS -o OUT` first, or build with --precision fp16"
        )
    flags = [] if p == "fp32" else ["FP16"]
    if p in ("int8", "best") and has_qdq:
        flags.append("INT8")
        notes.append("explicit quantization: INT8 where the graph has Q/DQ, FP16 elsewhere")
    if p == "best" and not has_qdq:
        notes.append("best without Q/DQ = FP16 (no INT8 scales in the graph)")
    if options.sparsity:
        flags.append("SPARSE_WEIGHTS")
        notes.append("2:4 sparse kernels are used only where weights are 2:4 sparse (prune first)")
    if options.dla is not None:
        if options.dla >= device.dla_cores:
            raise EngineBuildError(
                f"--dla {options.dla} but {device.title} has {device.dla_cores} DLA core(s)"
            )
        if p == "fp32":
            raise EngineBuildError("DLA runs FP16 or INT8 only: use --precision fp16 or int8")
        flags.append("GPU_FALLBACK")
        notes.append(f"DLA core {options.dla}; unsupported layers fall back to the GPU")
    return flags, notes


def profile_shapes(inputs: list[dict[str, Any]], options: BuildOptions) -> dict[str, tuple]:
    """min/opt/max shapes for every input with a dynamic axis. Axis 0 is the batch; any other
    symbolic axis takes options.dims[name] (fixed) or is an error."""
    opt_b = options.opt_batch or 1
    if options.dla is not None:  # DLA needs build-time shapes
        opt_b = options.max_batch
    lo_b = options.max_batch if options.dla is not None else 1
    out = {}
    for inp in inputs:
        shape = list(inp["shape"])
        if all(isinstance(d, int) and d > 0 for d in shape):
            continue
        lo, opt, hi = [], [], []
        for axis, d in enumerate(shape):
            if isinstance(d, int) and d > 0:
                vals = (d, d, d)
            elif axis == 0:
                vals = (lo_b, opt_b, options.max_batch)
            elif str(d) in options.dims:
                vals = (options.dims[str(d)],) * 3
            else:
                raise EngineBuildError(
                    f"input {inp['name']} axis {axis} is symbolic ({d!r}) and not the batch: "
                    f"give its value with --dim {d}=N or export it static"
                )
            lo.append(vals[0]), opt.append(vals[1]), hi.append(vals[2])
        out[inp["name"]] = (lo, opt, hi)
    return out


def plan_build(
    options: BuildOptions, inputs: list[dict[str, Any]], has_qdq: bool, device: DeviceProfile
) -> BuildPlan:
    flags, notes = _flags(options, has_qdq, device)
    return BuildPlan(
        device=device.name,
        precision=options.precision,
        flags=flags,
        profile=profile_shapes(inputs, options),
        dla_core=options.dla,
        workspace_bytes=options.workspace_mb * MIB if options.workspace_mb else None,
        timing_cache=str(options.timing_cache) if options.timing_cache else None,
        plugin_library=str(options.plugin_library) if options.plugin_library else None,
        optimization_level=options.optimization_level,
        notes=notes,
    )


def engine_name(device: DeviceProfile, precision: str, role: str) -> str:
    """engines/<device>-<precision>.plan for the per-frame graph; other roles get a suffix."""
    base = f"{device.name}-{precision}"
    return (
        f"engines/{base}.plan"
        if role in ("policy", "monolithic")
        else f"engines/{base}.{role}.plan"
    )
