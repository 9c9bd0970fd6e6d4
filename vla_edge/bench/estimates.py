"""Estimates for whole bundles: per-frame latency, control rate, bottlenecks, memory fit.

The per-frame latency is what the control loop pays per camera frame: the `policy` graph of a
split bundle (the instruction encoder runs only when the instruction changes; reported apart)
or the whole `monolithic` graph. Every record carries kind = "estimate".
"""

from __future__ import annotations

import re
from typing import Any

from vla_edge.bench import fits as fits_mod
from vla_edge.bench.devices import DeviceProfile
from vla_edge.bench.estimate import KIND, Efficiency, GraphEstimate, predict
from vla_edge.bench.roofline import GraphCost, analyze, load_model

COMMON_ASSUMPTIONS = [
    "roofline model: each kernel takes max(FLOPs / achieved compute, bytes / achieved "
    "bandwidth) + a launch; pointwise ops fuse into their producer",
    "weights are read from DRAM on every inference (no cache reuse)",
    "excludes camera capture, image transfer, Python overhead outside the graph",
]
_TENSORRT_NOTES = [
    "fp32 builds use TF32 tensor cores for GEMMs (TensorRT's default)",
    "data-sheet peaks of the module at MAXN before JetPack 6.2 'Super' clocks",
    "attention is costed unfused; TensorRT's fused attention kernels may be faster",
]


class CostCache:
    """analyze() once per (graph file, precision, target, batch)."""

    def __init__(self) -> None:
        self._cache: dict[tuple, GraphCost] = {}
        self._models: dict[str, Any] = {}

    def get(self, path: str, precision: str, target: str, batch: int) -> GraphCost:
        key = (path, precision, target, batch)
        if key not in self._cache:
            if path not in self._models:
                self._models[path] = load_model(path)
            self._cache[key] = analyze(self._models[path], precision, batch, target)
        return self._cache[key]


def graph_precision(bundle: Any, graph: dict[str, Any], precision: str) -> str:
    """An already quantized bundle keeps float graphs float: its fp32 instruction encoder runs
    at fp16 in an int8 TensorRT build (no Q/DQ means no int8 there)."""
    own = graph.get("precision", "fp32")
    if precision == "int8" and bundle.precision != "fp32" and own != "int8":
        return "fp16"
    return precision


def bundle_costs(bundle: Any, precision: str, target: str, batch: int, cache: CostCache):
    return {
        g["role"]: cache.get(
            str(bundle.path / g["file"]), graph_precision(bundle, g, precision), target, batch
        )
        for g in bundle.graphs
    }


def block_of(node_name: str) -> str:
    """'/vision.3/mlp/fc2/MatMul' -> 'vision.*/mlp': the kind of layer a node belongs to, with
    repeated blocks (vision.0, vision.1, ...) counted together."""
    parts = [p for p in node_name.split("/") if p]
    block = "/".join(parts[:2]) if len(parts) > 2 else (parts[0] if parts else node_name)
    return re.sub(r"\.\d+(?=/|$)", ".*", block)


def layer_bottlenecks(est: GraphEstimate, k: int = 3) -> list[dict[str, Any]]:
    """Layers (node-name blocks) taking the most time, with their dominant bound."""
    blocks: dict[str, dict[str, Any]] = {}
    for n in est.nodes:
        key = f"{block_of(n.name)} {n.op}"
        b = blocks.setdefault(key, {"layer": key, "ms": 0.0, "by": {}})
        b["ms"] += n.ms
        b["by"][n.bound] = b["by"].get(n.bound, 0.0) + n.ms
    top = sorted(blocks.values(), key=lambda b: -b["ms"])[:k]
    for b in top:
        b["bound"] = max(b.pop("by").items(), key=lambda kv: kv[1])[0]
        b["share"] = b["ms"] / est.latency_ms if est.latency_ms else 0.0
    return top


def _kind_summary(est: GraphEstimate) -> str:
    shares = {"compute": est.compute_ms, "memory": est.memory_ms}
    launch = est.latency_ms - est.compute_ms - est.memory_ms
    shares["kernel-launch"] = max(launch, 0.0)
    name, value = max(shares.items(), key=lambda kv: kv[1])
    return f"{name}-bound ({value / est.latency_ms:.0%} of the time)" if est.latency_ms else ""


def _hint(est: GraphEstimate, target: str) -> str:
    launch = est.latency_ms - est.compute_ms - est.memory_ms
    if est.latency_ms and launch > 0.5 * est.latency_ms and target == "tensorrt":
        return (
            f"{est.kernels} kernels are too small to fill the GPU: a CUDA graph (`--cuda-graph` "
            "on run, predict, eval and benchmark with TensorRT) or a larger batch amortizes the "
            "launches"
        )
    if est.memory_ms > est.compute_ms:
        return "memory-bound: lower precision (fp16/int8 weights) cuts the bytes moved"
    return "compute-bound: int8 tensor cores, pruning or a smaller model cut the FLOPs"


def estimate_bundle(
    bundle: Any,
    precision: str,
    device: DeviceProfile,
    eff: Efficiency,
    batch: int,
    cache: CostCache,
) -> dict[str, Any]:
    """Estimate record for one bundle at one precision on one device."""
    if bundle.layout == "kv-cache":  # a decoder LLM: per token and per action
        from vla_edge.bench.decode import estimate_kv_bundle

        return estimate_kv_bundle(bundle, precision, device, eff, batch, cache)
    target = "onnxruntime" if device.kind == "host" else "tensorrt"
    costs = bundle_costs(bundle, precision, target, batch, cache)
    graphs = {role: predict(c, device, eff, role) for role, c in costs.items()}
    frame_role = "monolithic" if "monolithic" in graphs else "policy"
    if bundle.layout == "flow-split":  # the denoise step runs `steps` times a frame
        frame_role = "denoise_step"
    frame = graphs[frame_role]
    frame_ms = per_frame_ms(bundle, graphs)
    chunk = bundle.spec.action.chunk
    notes = sorted({f"{bundle.name} {precision}: {n}" for c in costs.values() for n in c.notes})
    assumptions = COMMON_ASSUMPTIONS + (_TENSORRT_NOTES if target == "tensorrt" else [])
    return {
        "kind": KIND,
        "device": device.name,
        "title": device.title,
        "bundle": bundle.name,
        "bundle_path": str(bundle.path),
        "bundle_precision": bundle.precision,
        "precision": precision,
        "batch": batch,
        "per_frame_ms": frame_ms,
        "instruction_ms": graphs["instruction_encoder"].latency_ms
        if "instruction_encoder" in graphs
        else None,
        "max_rate_hz": 1e3 / frame_ms if frame_ms else None,
        "actions_per_s": chunk * batch * 1e3 / frame_ms if frame_ms else None,
        "chunk": chunk,
        "bound": _kind_summary(frame),
        "hint": _hint(frame, target),
        "bottleneck_layers": layer_bottlenecks(frame),
        "graphs": {role: g.to_dict() for role, g in graphs.items()},
        "efficiency": eff.to_dict(),
        "assumptions": assumptions + notes,
    }


def per_frame_ms(bundle: Any, graphs: dict[str, GraphEstimate]) -> float:
    """What one camera frame costs: the per-frame graph, or for a split flow-matching bundle
    every camera's vision graph + prefix + steps x denoise_step + action_decoder."""
    if bundle.layout != "flow-split":
        return graphs["monolithic" if "monolithic" in graphs else "policy"].latency_ms
    steps = int(bundle.manifest["flow"]["steps"])
    return sum(g.latency_ms * (steps if r == "denoise_step" else 1) for r, g in graphs.items())


def fits_bundle(
    bundle: Any, precision: str, device: DeviceProfile, batch: int, cache: CostCache
) -> dict[str, Any]:
    target = "onnxruntime" if device.kind == "host" else "tensorrt"
    costs = bundle_costs(bundle, precision, target, batch, cache)
    return {
        "bundle": bundle.name,
        "precision": precision,
        "batch": batch,
        **fits_mod.fits(costs, device),
    }


def estimate_precisions(bundle: Any, asked: list[str] | None) -> list[str]:
    """Precisions to estimate: those asked, else the bundle's own (an fp32 bundle also at the
    fp16 and int8 a TensorRT build could use)."""
    if asked:
        return [p for p in asked if re.fullmatch(r"fp32|fp16|int8", p)]
    own = bundle.precision if bundle.precision in ("fp32", "fp16", "int8") else "fp32"
    return ["fp32", "fp16", "int8"] if own == "fp32" else [own]
