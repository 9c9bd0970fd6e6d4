"""Per-layer (or per-block) sensitivity: quantize one alone, everything else FP32, and measure
the action error in physical units on held-out frames. Written as JSON, Markdown and a PNG."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path

from vla_edge.compress.quantize.evaluate import Evaluator, Metrics
from vla_edge.compress.quantize.graphs import Layer

log = logging.getLogger(__name__)


def group_layers(layers: list[Layer], granularity: str) -> dict[str, list[Layer]]:
    groups: dict[str, list[Layer]] = {}
    for layer in layers:
        key = layer.name if granularity == "layer" else layer.block
        groups.setdefault(key, []).append(layer)
    return groups


def row(name: str, group: list[Layer], m: Metrics, params: int) -> dict:
    return {
        "name": name,
        "layers": [layer.name for layer in group],
        "op": sorted({layer.op_type for layer in group}),
        "params": params,
        "score": m.score,
        "identical_bins": m.identical_bins,
        "p99_error": {k: v["p99"] for k, v in m.error.items()},
        "max_error": {k: v["max"] for k, v in m.error.items()},
        "units": {k: v["unit"] for k, v in m.error.items()},
    }


def sensitivity(
    evaluator: Evaluator,
    build: Callable[[list[Layer]], dict[str, object]],
    groups: dict[str, list[Layer]],
    params: dict[str, int],
    progress: Callable[[str], None] | None = None,
) -> list[dict]:
    """Rows sorted most sensitive first (by mean error as a fraction of each action range)."""
    rows = []
    for i, (name, group) in enumerate(groups.items()):
        if progress:
            progress(f"sensitivity {i + 1}/{len(groups)}: {name}")
        m = evaluator.evaluate(build(group), label=f"int8:{name}")
        rows.append(row(name, group, m, sum(params.get(layer.weight, 0) for layer in group)))
    return sorted(rows, key=lambda r: (r["score"], -(r["identical_bins"] or 1.0)), reverse=True)


def ranking(rows: list[dict], budget) -> list[str]:
    """Most harmful first, by what the budget bounds: flipped bins when it bounds identical
    bins (a small error in many bins can matter more than a large one in few), else error."""
    if budget is not None and budget.identical_bins is not None:
        rows = sorted(rows, key=lambda r: (-(1 - (r["identical_bins"] or 1.0)), -r["score"]))
    return [r["name"] for r in rows]


def markdown(rows: list[dict], title: str) -> str:
    dims = list(rows[0]["p99_error"]) if rows else []
    units = rows[0]["units"] if rows else {}
    head = ["layer", "params", "mean err / range", "identical bins"]
    head += [f"p99 {d} ({units[d]})" for d in dims]
    lines = [f"# {title}", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        bins = "-" if r["identical_bins"] is None else f"{r['identical_bins']:.2%}"
        cells = [r["name"], str(r["params"]), f"{r['score']:.2e}", bins]
        cells += [f"{r['p99_error'][d]:.3g}" for d in dims]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def plot(rows: list[dict], path: Path, title: str) -> bool:
    """Horizontal bars of each layer's error; False (logged) when matplotlib is absent."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        log.warning("matplotlib is not installed: no sensitivity plot (pip install matplotlib)")
        return False
    shown = rows[:40]
    fig, ax = plt.subplots(figsize=(8, 1.5 + 0.22 * len(shown)))
    ax.barh([r["name"] for r in shown][::-1], [r["score"] for r in shown][::-1], color="#c44e52")
    ax.set_xlabel("mean action error / action range (this layer alone INT8)")
    ax.set_title(title, fontsize=10)
    ax.tick_params(axis="y", labelsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def write(rows: list[dict], folder: Path, title: str) -> dict[str, str]:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sensitivity.json").write_text(json.dumps(rows, indent=2) + "\n")
    (folder / "sensitivity.md").write_text(markdown(rows, title))
    files = {"json": "sensitivity.json", "markdown": "sensitivity.md"}
    if plot(rows, folder / "sensitivity.png", title):
        files["plot"] = "sensitivity.png"
    return files
