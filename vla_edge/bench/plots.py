"""PNG plots of a benchmark report (matplotlib, optional: `pip install 'vla-edge[plot]'`).

- latency.png: latency distribution per measured variant (box plot over every iteration);
- accuracy_vs_latency.png: action error vs p50 latency per measured variant;
- estimate.png: estimated per-frame latency per device and precision, titled ESTIMATE.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from vla_edge import deps

PLOT_NAMES = ("latency.png", "accuracy_vs_latency.png", "estimate.png")


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def write_plots(report: dict[str, Any], out: Path) -> list[Path]:
    if not deps.available("matplotlib"):
        report.setdefault("warnings", []).append(
            "no plots: matplotlib is not installed (`pip install 'vla-edge[plot]'`)"
        )
        return []
    plt = _pyplot()
    written = []
    for name, fn in zip(PLOT_NAMES, (latency_plot, accuracy_plot, estimate_plot), strict=True):
        fig = fn(report, plt)
        if fig is not None:
            fig.savefig(out / name, dpi=120, bbox_inches="tight")
            plt.close(fig)
            written.append(out / name)
    return written


def latency_plot(report: dict[str, Any], plt):
    m = report.get("measured")
    if not m:
        return None
    variants = m["variants"]
    fig, ax = plt.subplots(figsize=(max(5, 1.6 * len(variants)), 4))
    ax.boxplot([v["times_ms"] for v in variants], whis=(1, 99), showfliers=True)
    ax.set_xticks(range(1, len(variants) + 1), [v["label"] for v in variants], rotation=20)
    ax.set_ylabel("latency per call (ms)")
    ax.set_title(f"MEASURED latency on {m['title']} (whiskers p1-p99)", fontsize=9)
    ax.grid(axis="y", alpha=0.3)
    return fig


def accuracy_plot(report: dict[str, Any], plt):
    m = report.get("measured")
    if not m:
        return None
    fig, ax = plt.subplots(figsize=(5.5, 4))
    for v in m["variants"]:
        err = (
            0.0
            if v.get("reference")
            else (v.get("action_error") or {}).get("max_fraction_of_range")
        )
        if err is None:
            continue
        ax.scatter(v["latency_ms"]["p50"], err * 100, s=40, label=v["label"])
    ax.set_xlabel("p50 latency (ms, measured)")
    ax.set_ylabel("max action error vs reference (% of range)")
    ax.set_title("Accuracy vs latency (MEASURED)", fontsize=9)
    ax.legend(fontsize=7, loc="best")
    ax.grid(alpha=0.3)
    return fig


def estimate_plot(report: dict[str, Any], plt):
    est = report.get("estimates")
    if not est:
        return None
    labels = [f"{e['device']}\n{e['bundle']} {e['precision']}" for e in est]
    fig, ax = plt.subplots(figsize=(max(5, 0.9 * len(est)), 4))
    ax.bar(range(len(est)), [e["per_frame_ms"] for e in est], color="#999999", hatch="//")
    ax.set_xticks(range(len(est)), labels, rotation=60, fontsize=7)
    ax.set_ylabel("per-frame latency (ms)")
    ax.set_title("ESTIMATE (roofline model, not a measurement)", fontsize=9)
    ax.grid(axis="y", alpha=0.3)
    return fig
