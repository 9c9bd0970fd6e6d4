"""Predicted latency of a costed graph on a device profile: a roofline with efficiency factors.

Each node takes max(FLOPs / achieved compute, bytes / achieved bandwidth) plus one kernel launch
unless it runs fused into its producer. Achieved compute = peak of the node's precision x
`Efficiency.gemm` (GEMMs, convolutions) or `.pointwise` (the rest) x the tile utilization of
a GEMM: output tiles of `tile` elements spread over `units` parallel units (SMs on a GPU,
cores on a CPU), so a 17 x 64 GEMM fills a fraction of a 128 x 128 tile and of the waves.
Achieved bandwidth = peak x `Efficiency.memory`.

Everything here is an ESTIMATE; every result carries kind = "estimate" and the assumptions.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from vla_edge.bench.devices import DeviceProfile
from vla_edge.bench.roofline import GraphCost, NodeCost
from vla_edge.errors import InputError

KIND = "estimate"


@dataclass(frozen=True)
class Efficiency:
    """Fractions of the data-sheet peaks that kernels reach, and per-kernel overhead."""

    gemm: float = 0.6
    pointwise: float = 0.5
    memory: float = 0.7
    launch_us: float = 5.0
    tile: tuple[int, int] = (128, 128)
    units: int = 0  # parallel units; 0: SMs from the profile (CUDA cores / 128)
    source: str = "assumed"

    def __post_init__(self) -> None:
        for name in ("gemm", "pointwise", "memory"):
            value = getattr(self, name)
            if not 0 < value <= 1:
                raise InputError(f"efficiency {name} must be in (0, 1], got {value}")
        if self.launch_us < 0:
            raise InputError(f"launch_us must be >= 0, got {self.launch_us}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# TensorRT on a Jetson Orin. Not calibrated on a Jetson (none was available): large FP16/INT8
# GEMMs under TensorRT commonly reach 50-70 % of the tensor-core peak, LPDDR5 copies ~70-80 %
# of the data-sheet bandwidth, and back-to-back TensorRT kernels cost a few microseconds each
# on the Orin's CPU. Replace with `fit` results once `benchmark` has run on a device.
JETSON_EFFICIENCY = Efficiency(
    gemm=0.6,
    pointwise=0.5,
    memory=0.75,
    launch_us=5.0,
    source="assumed (typical TensorRT-on-Ampere figures; not calibrated on a Jetson)",
)
GPU_EFFICIENCY = Efficiency(
    gemm=0.6, pointwise=0.5, memory=0.8, launch_us=3.0, source="assumed (not calibrated)"
)


@dataclass
class NodeTime:
    name: str
    op: str
    ms: float
    bound: str  # compute | memory | launch | fused
    flops: float
    bytes: float
    compute: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class GraphEstimate:
    role: str
    latency_ms: float
    flops: float
    bytes: float
    weight_bytes: float
    compute_ms: float
    memory_ms: float
    launch_ms: float
    kernels: int
    nodes: list[NodeTime] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def bottlenecks(self, k: int = 5) -> list[NodeTime]:
        return sorted(self.nodes, key=lambda n: -n.ms)[:k]

    def by_op(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for n in self.nodes:
            out[n.op] = out.get(n.op, 0.0) + n.ms
        return dict(sorted(out.items(), key=lambda kv: -kv[1]))

    def to_dict(self, top: int = 5) -> dict[str, Any]:
        d = {k: v for k, v in asdict(self).items() if k != "nodes"}
        d["bottlenecks"] = [
            {**n.to_dict(), "share": n.ms / self.latency_ms if self.latency_ms else 0.0}
            for n in self.bottlenecks(top)
        ]
        d["by_op_ms"] = self.by_op()
        return d


def peak_flops(device: DeviceProfile, compute: str, cls: str) -> float:
    """FLOP/s of `device` for a node of class `cls` computing in `compute` precision."""
    fp32 = device.fp32_tflops * 1e12
    if cls not in ("gemm", "conv"):
        return fp32
    table = {
        "fp32": fp32,
        "tf32": device.fp16_tflops_dense * 1e12 / 2,
        "fp16": device.fp16_tflops_dense * 1e12,
        "int8": device.int8_tops_dense * 1e12,
    }
    return table.get(compute) or fp32


def units_of(device: DeviceProfile, eff: Efficiency) -> int:
    if eff.units:
        return eff.units
    return max(device.cuda_cores // 128, 1) if device.cuda_cores else 1


def utilization(node: NodeCost, tile: tuple[int, int], units: int) -> float:
    """Fraction of the machine a GEMM keeps busy: tile fill x wave fill."""
    if not node.gemm:
        return 1.0
    batch, m, _, n = node.gemm
    if m <= 0 or n <= 0:
        return 1.0
    tm, tn = tile
    tiles = max(batch, 1) * math.ceil(m / tm) * math.ceil(n / tn)
    fill = (m * n) / (math.ceil(m / tm) * tm * math.ceil(n / tn) * tn)
    waves = math.ceil(tiles / units)
    return fill * tiles / (waves * units)


def node_time(node: NodeCost, device: DeviceProfile, eff: Efficiency, units: int) -> NodeTime:
    gemm_like = node.cls in ("gemm", "conv")
    rate = peak_flops(device, node.compute, node.cls) * (eff.gemm if gemm_like else eff.pointwise)
    if gemm_like:
        rate *= utilization(node, eff.tile, units)
    t_c = node.flops / rate if node.flops and rate else 0.0
    bw = device.memory_bandwidth_gbs * 1e9 * eff.memory
    t_m = node.bytes / bw if bw else 0.0
    launch = 0.0 if node.fused else eff.launch_us * 1e-6
    if node.fused and t_c == t_m == 0:
        bound = "fused"
    elif launch >= max(t_c, t_m):
        bound = "launch"
    else:
        bound = "compute" if t_c >= t_m else "memory"
    ms = (max(t_c, t_m) + launch) * 1e3
    return NodeTime(node.name, node.op, ms, bound, node.flops, node.bytes, node.compute)


def predict(cost: GraphCost, device: DeviceProfile, eff: Efficiency, role: str) -> GraphEstimate:
    """Sum of node times of `cost` on `device`."""
    if not device.memory_bandwidth_gbs or not device.fp32_tflops:
        raise InputError(
            f"device profile {device.name!r} has no peak compute/bandwidth to estimate against; "
            "use a Jetson profile (orin-agx, orin-nx, orin-nano) or the measured host profile"
        )
    units = units_of(device, eff)
    times = [node_time(n, device, eff, units) for n in cost.nodes]
    bound = {b: sum(t.ms for t in times if t.bound == b) for b in ("compute", "memory")}
    return GraphEstimate(
        role=role,
        latency_ms=sum(t.ms for t in times),
        flops=cost.flops,
        bytes=cost.bytes,
        weight_bytes=cost.weight_bytes,
        compute_ms=bound["compute"],
        memory_ms=bound["memory"],
        launch_ms=sum(0 if n.fused else eff.launch_us / 1e3 for n in cost.nodes),
        kernels=sum(not n.fused for n in cost.nodes),
        nodes=times,
        notes=list(cost.notes),
    )
