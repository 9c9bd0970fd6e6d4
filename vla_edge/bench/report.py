"""Benchmark reports: the same tables for the terminal and Markdown, the full JSON, PNG plots.

Every estimate table says ESTIMATE in its title and every estimate record carries
kind = "estimate"; measured tables say MEASURED and name the machine.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

Table = tuple[str, list[str], list[list[str]]]
ESTIMATE_TITLE = "ESTIMATE (roofline model, not a measurement)"


def _f(value: Any, fmt: str = ".2f") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return format(value, fmt)


def _err(v: dict[str, Any]) -> str:
    e = v.get("action_error")
    if v.get("reference"):
        return "reference"
    if not e:
        return "-"
    return f"{e['max_fraction_of_range'] * 100:.2f} % ({e['identical'] * 100:.0f} % same)"


def _mem(v: dict[str, Any]) -> str:
    m = v["memory"]
    text = f"{_f(m.get('rss_delta_mb'), '.0f')}"
    if m.get("gpu_memory_mb") is not None:
        text += f" (+{m['gpu_memory_mb']:.0f} GPU)"
    return text


def measured_table(report: dict[str, Any]) -> Table | None:
    m = report.get("measured")
    if not m:
        return None
    c = m["config"]
    title = (
        f"MEASURED on {m['title']}: batch {c['batch']}, {c['iterations']} iterations in "
        f"{c['rounds']} alternating rounds, one process per variant"
    )
    heads = ["variant", "p50 ms", "p90 ms", "p99 ms", "max ms", "cpu p50 ms", "per s"]
    heads += ["RSS Δ MB", "size MB"]
    heads += ["action error vs ref (max, % of range)"]
    power = any(v.get("power") and "power_w" in v["power"] for v in m["variants"])
    heads += ["power W", "mJ/inf", "GPU MHz"] if power else []
    rows = []
    for v in m["variants"]:
        lat = v["latency_ms"]
        row = [v["label"], *(_f(lat[k]) for k in ("p50", "p90", "p99", "max"))]
        row.append(_f((v.get("cpu_ms") or {}).get("p50")))
        row += [_f(v["throughput_per_s"], ".1f"), _mem(v), _f(v["size_mb"], ".1f"), _err(v)]
        if power:
            p = v.get("power") or {}
            row += [_f(p.get("power_w")), _f(p.get("energy_mj_per_inference"), ".1f")]
            row += [_f(p.get("gpu_clock_mhz"), ".0f")]
        rows.append(row)
    return title, heads, rows


def _layers(e: dict[str, Any]) -> str:
    return ", ".join(
        f"{b['layer']} {b['share']:.0%} ({b['bound']})" for b in e["bottleneck_layers"][:2]
    )


def estimate_table(report: dict[str, Any]) -> Table | None:
    if not report.get("estimates"):
        return None
    heads = ["device", "bundle", "precision", "per-frame ms", "max rate Hz", "actions/s"]
    heads += ["instruction ms", "bound", "bottleneck layers"]
    rows = [
        [
            e["title"],
            e["bundle"],
            e["precision"],
            _f(e["per_frame_ms"], ".3f"),
            _f(e["max_rate_hz"], ".0f"),
            _f(e["actions_per_s"], ".0f"),
            _f(e["instruction_ms"], ".3f"),
            e["bound"],
            _layers(e),
        ]
        for e in report["estimates"]
    ]
    batch = report["estimates"][0]["batch"]
    return f"{ESTIMATE_TITLE}: batch {batch}", heads, rows


def fits_table(report: dict[str, Any]) -> Table | None:
    """One row per device and bundle; per precision the memory needed and the verdict."""
    fits = report.get("fits") or []
    if not fits:
        return None
    precisions = list(dict.fromkeys(f["precision"] for f in fits))
    heads = ["device", "bundle", "usable GB", *(f"{p}: need GB, verdict" for p in precisions)]
    rows: dict[tuple[str, str], list[str]] = {}
    for f in fits:
        row = rows.setdefault(
            (f["title"], f["bundle"]),
            [f["title"], f["bundle"], _f(f["usable_gb"], ".1f")] + ["-"] * len(precisions),
        )
        unsized = f" ({f['unsized_tensors']} unsized)" if f.get("unsized_tensors") else ""
        cell = f"{f['need_gb']:.2f} {f['verdict'].upper()}{unsized}"
        row[3 + precisions.index(f["precision"])] = cell
    title = (
        "MEMORY FIT (ESTIMATE): weights + peak activations + runtime "
        f"(~{fits[0]['runtime_gb']:.2f} GB) vs usable memory; `unsized`: activation tensors "
        "whose size could not be inferred (not counted)"
    )
    return title, heads, list(rows.values())


def error_table(report: dict[str, Any]) -> Table | None:
    errors = report.get("estimator_error", [])
    cpu = any("measured_cpu_p50_ms" in r for r in errors)
    rows = []
    for r in errors:
        row = [r["variant"], _f(r["estimate_ms"]), _f(r["measured_p50_ms"])]
        row.append(_f(r["error_pct"], "+.0f"))
        if cpu:
            row += [_f(r.get("measured_cpu_p50_ms")), _f(r.get("error_vs_cpu_pct"), "+.0f")]
        rows.append(row)
    if not rows:
        return None
    heads = ["variant", "estimate ms", "measured wall p50 ms", "error vs wall %"]
    heads += ["measured CPU p50 ms", "error vs CPU %"] if cpu else []
    return "ESTIMATOR ERROR on this machine (estimate vs measurement)", heads, rows


def tables(report: dict[str, Any]) -> list[Table]:
    from vla_edge.bench.decode import decode_table

    makers = (measured_table, error_table, estimate_table, decode_table, fits_table)
    return [t for t in (make(report) for make in makers) if t is not None]


def markdown(report: dict[str, Any]) -> str:
    lines = [f"# vla-edge benchmark ({report['device_asked']}, {report['created_at']})", ""]
    lines += [f"> warning: {w}" for w in report.get("warnings", [])]
    for title, heads, rows in tables(report):
        lines += ["", f"## {title}", "", "| " + " | ".join(heads) + " |"]
        lines.append("| " + " | ".join("---" for _ in heads) + " |")
        lines += ["| " + " | ".join(r) + " |" for r in rows]
    lines += notes(report)
    return "\n".join(lines) + "\n"


def notes(report: dict[str, Any]) -> list[str]:
    out = []
    m = report.get("measured")
    if m and m.get("skipped"):
        out += ["", "Skipped variants:", *[f"- {s}" for s in m["skipped"]]]
    if report.get("estimates"):
        assumptions = dict.fromkeys(a for e in report["estimates"] for a in e["assumptions"])
        out += ["", "Estimate assumptions:", *[f"- {a}" for a in assumptions]]
        sources = dict.fromkeys(e["efficiency"]["source"] for e in report["estimates"])
        out += [f"- efficiency: {s}" for s in sources]
        hints = dict.fromkeys(
            f"{e['bundle']} {e['precision']} on {e['device']}: {e['hint']}"
            for e in report["estimates"][:1]
        )
        out += ["", "Hint:", *[f"- {h}" for h in hints]]
    return out


def report_files() -> tuple[str, ...]:
    """Every name `write` may put in a report directory."""
    from vla_edge.bench import plots

    return ("report.json", "report.md", *plots.PLOT_NAMES)


def check_dir(out: str | Path, inputs: tuple = ()) -> Path:
    """Before the benchmark runs: --report is new, empty or an earlier report (see outputs)."""
    from vla_edge.outputs import check_report_dir

    return check_report_dir(out, report_files(), inputs, option="--report")


def write(report: dict[str, Any], out: str | Path, inputs: tuple = ()) -> list[Path]:
    """report.json, report.md and (when matplotlib is installed) PNG plots under `out`."""
    from vla_edge.bench import plots

    out = check_dir(out, inputs)
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "report.json", out / "report.md"]
    paths[0].write_text(json.dumps(report, indent=2, default=_json_default) + "\n")
    paths[1].write_text(markdown(report))
    paths += plots.write_plots(report, out)
    return paths


def _json_default(obj: Any) -> Any:
    try:
        import numpy as np

        if isinstance(obj, np.generic):
            return obj.item()
    except ImportError:  # pragma: no cover
        pass
    if isinstance(obj, (Path, tuple)):
        return str(obj)
    raise TypeError(f"not JSON serializable: {type(obj).__name__}")
