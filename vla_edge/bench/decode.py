"""Decoder-LLM (KV-cache) bundles in `vla-edge benchmark`: latency per token and per action.

An action costs vision + prefill (which gives the first token) + (A - 1) decode steps; the
instruction's prefix is paid only when it changes (reported apart). Estimated: each graph is
costed by the roofline (`bench.roofline.analyze`, `bench.estimate.predict`), which charges every
weight a kernel reads from DRAM on every call: a decode step reads the decoder's weights (and
the cache) once per token. Weight-only variants (W8A16 / W4A16: INT8 / INT4 weights behind a
DequantizeLinear, FP16 GEMMs, the form TensorRT 10.3 builds) are the FP16 costs with every GEMM
weight read at 8 / 4 bits. Measured: the decode loop times each graph call, so the benchmark
worker reports per-token (decode step) and per-action (whole predict) percentiles.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from vla_edge.bench.devices import DeviceProfile
from vla_edge.bench.estimate import KIND, Efficiency, GraphEstimate, predict
from vla_edge.bench.roofline import GraphCost

WEIGHT_ONLY = {"w8a16": 8, "w4a16": 4}
ASSUMPTIONS = [
    "decoder LLM: per action = vision + prefill + (A - 1) decode steps; the instruction prefix "
    "runs only when the instruction changes (instruction ms)",
    "a decode step reads every decoder weight and the whole KV cache from DRAM once per token",
    "weight-only w8a16 / w4a16: the fp16 costs with GEMM weights read at 8 / 4 bits (INT8/INT4 "
    "DequantizeLinear -> FP16 GEMM); dequantization itself not costed",
]


def is_kv_cache(bundle: Any) -> bool:
    return bundle.layout == "kv-cache"


def weight_only(cost: GraphCost, bits: int) -> GraphCost:
    """The cost of `cost` (an fp16 analysis) with every GEMM/conv weight stored at `bits`."""
    scale = bits / 16
    nodes = [
        replace(
            n, bytes=n.bytes - n.weight_bytes * (1 - scale), weight_bytes=n.weight_bytes * scale
        )
        if n.cls in ("gemm", "conv") and n.weight_bytes
        else n
        for n in cost.nodes
    ]
    return replace(cost, nodes=nodes, precision=f"w{bits}a16")


def action_time(graphs: dict[str, GraphEstimate], steps: int) -> dict[str, float]:
    """Per-token and per-action milliseconds from the graphs' estimates."""
    step = graphs["decode_step"].latency_ms if "decode_step" in graphs else 0.0
    vision, prefill = graphs["vision_encoder"].latency_ms, graphs["prefill"].latency_ms
    per_action = vision + prefill + steps * step
    return {
        "per_token_ms": step if steps else prefill,
        "per_action_ms": per_action,
        "vision_ms": vision,
        "prefill_ms": prefill,
        "instruction_ms": graphs["prefix"].latency_ms,
    }


def estimate_kv_bundle(
    bundle: Any, precision: str, device: DeviceProfile, eff: Efficiency, batch: int, cache
) -> dict[str, Any]:
    """The estimate record of a KV-cache bundle (same fields as `estimate_bundle`, plus
    `decode`: per-token and per-action times, weights and cache read per token, and the
    weight-only variants)."""
    from vla_edge.bench.estimates import COMMON_ASSUMPTIONS, bundle_costs, layer_bottlenecks

    target = "onnxruntime" if device.kind == "host" else "tensorrt"
    costs = bundle_costs(bundle, precision, target, batch, cache)
    graphs = {role: predict(c, device, eff, role) for role, c in costs.items()}
    dec = bundle.manifest.get("decoding", {})
    tokens = int(dec.get("action_tokens", bundle.spec.action.chunk * bundle.spec.action.dim))
    steps = tokens - 1 if "decode_step" in graphs else 0
    times = action_time(graphs, steps)
    step_role = "decode_step" if steps else "prefill"
    decode = {
        **times,
        "tokens_per_action": tokens,
        "decode_steps": steps,
        "weight_bytes_per_token": costs[step_role].weight_bytes,
        "bytes_per_token": costs[step_role].bytes,
        "weight_only": _weight_only(bundle, device, eff, batch, cache, target, steps)
        if precision == "fp16" and target == "tensorrt"
        else {},
    }
    per_action, chunk = times["per_action_ms"], bundle.spec.action.chunk
    notes = sorted({f"{bundle.name} {precision}: {n}" for c in costs.values() for n in c.notes})
    return {
        "kind": KIND,
        "device": device.name,
        "title": device.title,
        "bundle": bundle.name,
        "bundle_path": str(bundle.path),
        "bundle_precision": bundle.precision,
        "precision": precision,
        "batch": batch,
        "per_frame_ms": per_action,
        "instruction_ms": times["instruction_ms"],
        "max_rate_hz": 1e3 / per_action if per_action else None,
        "actions_per_s": chunk * batch * 1e3 / per_action if per_action else None,
        "chunk": chunk,
        "bound": _bound(graphs[step_role]),
        "hint": _hint(graphs[step_role], steps),
        "bottleneck_layers": layer_bottlenecks(graphs[step_role]),
        "graphs": {role: g.to_dict() for role, g in graphs.items()},
        "efficiency": eff.to_dict(),
        "assumptions": COMMON_ASSUMPTIONS + ASSUMPTIONS + notes,
        "decode": decode,
    }


def _weight_only(bundle, device, eff, batch, cache, target, steps) -> dict[str, dict]:
    from vla_edge.bench.estimates import bundle_costs

    costs = bundle_costs(bundle, "fp16", target, batch, cache)
    out = {}
    for name, bits in WEIGHT_ONLY.items():
        graphs = {
            role: predict(
                weight_only(c, bits) if role != "vision_encoder" else c, device, eff, role
            )
            for role, c in costs.items()
        }
        out[name] = action_time(graphs, steps)
    return out


def _bound(est: GraphEstimate) -> str:
    launch = max(est.latency_ms - est.compute_ms - est.memory_ms, 0.0)
    parts = {"compute": est.compute_ms, "memory": est.memory_ms, "kernel-launch": launch}
    name, value = max(parts.items(), key=lambda kv: kv[1])
    return f"decode step {name}-bound ({value / est.latency_ms:.0%})" if est.latency_ms else ""


def _hint(est: GraphEstimate, steps: int) -> str:
    if steps and est.memory_ms > est.compute_ms:
        return (
            f"{steps} decode steps per action each read the weights: weight-only INT8/INT4 cuts "
            "the bytes per token; a parallel (OFT) student removes the steps"
        )
    if steps:
        return (
            f"{steps} small decode steps per action: a CUDA graph of the step amortizes its "
            f"{est.kernels} launches; a parallel (OFT) student removes the steps"
        )
    return "one pass per action (parallel decoding): cost as any per-frame graph"


# --- measured ----------------------------------------------------------------------------------
def decode_stats(samples: list[dict]) -> dict[str, Any] | None:
    """Percentiles of the decode loop's own timings over a benchmark's predict calls."""
    if not samples:
        return None
    from vla_edge.bench.harness import percentiles

    steps = [t for s in samples for t in s.get("decode_ms", [])]
    out = {
        "calls": len(samples),
        "tokens_per_action": 1 + len(samples[0].get("decode_ms", [])),
        "per_action_ms": percentiles([s["total_ms"] for s in samples]),
        "vision_ms": percentiles([s["vision_ms"] for s in samples]),
        "prefill_ms": percentiles([s["prefill_ms"] for s in samples]),
        "per_token_ms": percentiles(steps) if steps else None,
    }
    return out


def decode_table(report: dict[str, Any]):
    """Rows of every measured and estimated decoder-LLM variant, or None."""
    rows = []
    measured = (report.get("measured") or {}).get("variants", [])
    for v in measured:
        d = v.get("decode")
        if d:
            tok = d["per_token_ms"]["p50"] if d["per_token_ms"] else None
            rows.append(
                [
                    v["label"],
                    "MEASURED",
                    _f(tok),
                    str(d["tokens_per_action"]),
                    _f(d["per_action_ms"]["p50"]),
                    _f(d["prefill_ms"]["p50"]),
                    _f(d["vision_ms"]["p50"]),
                    "-",
                    "-",
                ]
            )
    for e in report.get("estimates", []):
        d = e.get("decode")
        if d:
            wo = d.get("weight_only") or {}
            rows.append(
                [
                    f"{e['bundle']} {e['precision']} on {e['title']}",
                    "ESTIMATE",
                    _f(d["per_token_ms"], ".3f"),
                    str(d["tokens_per_action"]),
                    _f(d["per_action_ms"], ".3f"),
                    _f(d["prefill_ms"], ".3f"),
                    _f(d["vision_ms"], ".3f"),
                    *(_f(wo[k]["per_action_ms"], ".3f") if k in wo else "-" for k in WEIGHT_ONLY),
                ]
            )
    if not rows:
        return None
    heads = [
        "variant",
        "kind",
        "per-token ms (p50)",
        "tokens/action",
        "per-action ms",
        "prefill ms",
        "vision ms",
        "w8a16 per-action ms",
        "w4a16 per-action ms",
    ]
    return "DECODER LLM: latency per token and per action", heads, rows


def _f(value, fmt: str = ".2f") -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "-"
    return format(value, fmt)
