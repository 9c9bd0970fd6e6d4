"""`--target-latency`: find the least pruning whose per-frame graph meets a latency target,
measured with ONNX Runtime on this machine (latency does not depend on the weights' values, so
candidates are measured before any fine-tuning).

Candidates: width ratios (heads and MLP channels removed per block) x vision-token pooling x
dropped vision blocks. For each (pooling, dropped blocks) pair a bisection finds the smallest
ratio that meets the target (latency falls as the ratio grows); of those, the one closest to
the target (the largest model that meets it) wins."""

from __future__ import annotations

from vla_edge.compress.prune.latency import model_latency_ms
from vla_edge.compress.prune.plan import make_plan
from vla_edge.compress.prune.structured import apply_plan
from vla_edge.errors import InputError

RATIOS = (0.0, 0.25, 0.5, 0.625, 0.75, 0.875)


def pools_for(model, start: int = 1) -> list[int]:
    grids = [enc.grid for enc in model.cameras.values()]
    base = getattr(model.config, "vision_token_pool", 1) or 1
    return [
        p
        for p in (1, 2, 4)
        if p >= max(start, base) and all(g[0] % p == 0 and g[1] % p == 0 for g in grids)
    ]


def search_plan(parent, scores, blocks, config) -> tuple:
    """(plan, measurements) for config.target_latency_ms."""
    n_vis = len(parent.vision)
    drops = sorted({config.drop_vision_layers, n_vis // 4, n_vis // 2} - {n_vis})
    rows: list[dict] = []
    best = None
    for pool in pools_for(parent, config.token_pool):
        for drop in drops:
            found = _bisect(parent, scores, blocks, config, pool, drop, rows)
            if found and (best is None or found["latency_ms"] > best["latency_ms"]):
                best = found
    if best is None:
        fastest = min(rows, key=lambda r: r["latency_ms"])
        raise InputError(
            f"no candidate meets --target-latency {config.target_latency_ms} ms on this machine; "
            f"the fastest measured was {fastest['latency_ms']:.2f} ms ({fastest}); raise the "
            "target or distill into a smaller student (`vla-edge distill`)"
        )
    return best["plan"], [{k: v for k, v in r.items() if k != "plan"} for r in rows]


def _bisect(parent, scores, blocks, config, pool, drop, rows) -> dict | None:
    lo, hi, found = 0, len(RATIOS) - 1, None
    while lo <= hi:
        mid = (lo + hi) // 2
        row = _measure(parent, scores, blocks, config, RATIOS[mid], pool, drop)
        rows.append(row)
        if row["latency_ms"] <= config.target_latency_ms:
            found, hi = row, mid - 1
        else:
            lo = mid + 1
    return found


def _measure(parent, scores, blocks, config, ratio, pool, drop) -> dict:
    plan = make_plan(
        scores, blocks, ratio, drop, config.drop_fusion_layers, pool, config.channel_multiple
    )
    model = apply_plan(parent, plan)
    ms = model_latency_ms(model, config.threads)
    return {
        "ratio": ratio,
        "token_pool": pool,
        "drop_vision_layers": drop,
        "latency_ms": ms,
        "plan": plan,
    }
