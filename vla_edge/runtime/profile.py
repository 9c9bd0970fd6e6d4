"""`--profile DIR`: summary.json, trace.json (Chrome / Perfetto) and timeline.png.

trace.json is the Chrome trace-event format (open it at https://ui.perfetto.dev or
chrome://tracing): track "control loop" holds one slice per stage per cycle, track "inference
worker" holds the async worker's inference calls, instant events mark faults, and counters plot
the end-to-end latency and the start lateness. Only the last `trace_cycles` cycles are traced.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from vla_edge.deps import require
from vla_edge.errors import DependencyError, RuntimeLoopError
from vla_edge.runtime.timing import (
    DEADLINE,
    FRAME_STAMP,
    STAGE_COL,
    STAGES,
    START,
    TICK,
    CycleLog,
    stage_durations_ms,
)
from vla_edge.runtime.watchdog import FAULTS

LOOP_TID, WORKER_TID = 1, 2


PROFILE_FILES = ("summary.json", "trace.json", "timeline.png")


def check_profile_dir(out: Path, inputs: tuple = ()) -> None:
    """--profile names a directory to write into: refuse a file there, someone else's directory
    and a directory inside the bundle before the run starts, rather than after it, when the
    run's figures would be lost."""
    from vla_edge.errors import OutputError
    from vla_edge.outputs import check_report_dir

    try:
        check_report_dir(out, PROFILE_FILES, inputs, option="--profile")
    except OutputError as exc:
        raise RuntimeLoopError(str(exc)) from None


def write_profile(out: Path, summary: dict, log: CycleLog, trace_cycles: int = 3000) -> dict:
    """Write the three files; returns their paths (the plot is skipped without matplotlib)."""
    check_profile_dir(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RuntimeLoopError(f"cannot write the profile to {out}: {exc}") from None
    paths = {"summary": out / "summary.json", "trace": out / "trace.json"}
    try:  # the robot's runtime has no matplotlib: summary and trace are what matter there
        paths["plot"] = write_plot(out / "timeline.png", log, summary)
    except (ImportError, DependencyError) as exc:
        summary["plot_error"] = str(exc)
    paths["summary"].write_text(json.dumps(summary, indent=2, default=_json_default) + "\n")
    paths["trace"].write_text(json.dumps(trace_events(log, trace_cycles)))
    return {k: str(v) for k, v in paths.items()}


def _json_default(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    return str(obj)


def trace_events(log: CycleLog, last: int = 3000) -> dict:
    rows, faults = log.kept()
    rows, faults = rows[-last:], faults[-last:]
    t0 = rows[0, START] if len(rows) else 0.0

    def us(t: float) -> float:
        return round((t - t0) * 1e6, 1)

    events: list[dict] = [
        _thread_name(LOOP_TID, "control loop"),
        _thread_name(WORKER_TID, "inference worker"),
    ]
    for row, fault in zip(rows, faults, strict=True):
        events.extend(_cycle_events(row, int(fault), us))
    for span in log.worker:
        if span.end >= t0:
            events.append(
                _slice(
                    "inference (worker)",
                    us(span.start),
                    (span.end - span.start) * 1e6,
                    WORKER_TID,
                    {"obs_tick": span.obs_tick},
                )
            )
    return {
        "traceEvents": events,
        "displayTimeUnit": "ms",
        "otherData": {"clock": "time.monotonic", "cycles_in_trace": int(len(rows))},
    }


def _cycle_events(row: np.ndarray, fault: int, us) -> list[dict]:
    events, prev = [], row[START]
    tick = int(row[TICK])
    for name in STAGES:
        end = row[STAGE_COL[name]]
        if np.isnan(end) or end <= prev:
            continue
        events.append(_slice(name, us(prev), (end - prev) * 1e6, LOOP_TID, {"tick": tick}))
        prev = end
    act = row[STAGE_COL["actuate"]]
    lateness = (row[START] - row[DEADLINE]) * 1e3
    events.append(
        {
            "name": "start_lateness_ms",
            "ph": "C",
            "ts": us(row[START]),
            "pid": 1,
            "args": {"ms": round(float(lateness), 4)},
        }
    )
    if np.isfinite(row[FRAME_STAMP]) and np.isfinite(act):
        e2e = (act - row[FRAME_STAMP]) * 1e3
        events.append(
            {
                "name": "end_to_end_ms",
                "ph": "C",
                "ts": us(act),
                "pid": 1,
                "args": {"ms": round(float(e2e), 4)},
            }
        )
    if fault:
        events.append(
            {
                "name": f"fault: {FAULTS.get(fault, fault)}",
                "ph": "i",
                "s": "t",
                "ts": us(row[START]),
                "pid": 1,
                "tid": LOOP_TID,
            }
        )
    return events


def _slice(name: str, ts: float, dur: float, tid: int, args: dict) -> dict:
    return {
        "name": name,
        "cat": "vla-edge",
        "ph": "X",
        "ts": ts,
        "dur": round(dur, 1),
        "pid": 1,
        "tid": tid,
        "args": args,
    }


def _thread_name(tid: int, name: str) -> dict:
    return {"name": "thread_name", "ph": "M", "pid": 1, "tid": tid, "args": {"name": name}}


def write_plot(path: Path, log: CycleLog, summary: dict, last: int = 2000) -> Path:
    """Timeline (stacked stage durations per cycle, last `last` cycles), start lateness, and
    histograms of cycle time and end-to-end latency."""
    matplotlib = require("matplotlib", extra="plot", purpose="draw the --profile plot")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows, _ = log.kept()
    fig, axes = plt.subplots(3, 1, figsize=(11, 10), constrained_layout=True)
    if len(rows):
        _plot_timeline(axes[0], rows[-last:], summary)
        _plot_lateness(axes[1], rows[-last:])
        _plot_histograms(axes[2], rows)
    fig.suptitle(
        f"vla-edge run: {summary.get('cycles')} cycles at {summary['config']['rate_hz']} Hz, "
        f"{summary['config']['chunking']}, misses {summary.get('deadline_misses')}"
    )
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def _plot_timeline(ax, rows: np.ndarray, summary: dict) -> None:
    t = rows[:, START] - rows[0, START]
    stages = stage_durations_ms(rows)
    ax.stackplot(t, *[np.nan_to_num(stages[s]) for s in STAGES], labels=STAGES, step="post")
    ax.axhline(1e3 / summary["config"]["rate_hz"], color="k", ls="--", lw=1, label="period")
    ax.set(
        xlabel="time since start of the plotted window (s)",
        ylabel="ms",
        title="per-cycle stage durations",
    )
    ax.legend(loc="upper right", ncol=6, fontsize=8)


def _plot_lateness(ax, rows: np.ndarray) -> None:
    t = rows[:, START] - rows[0, START]
    ax.plot(t, (rows[:, START] - rows[:, DEADLINE]) * 1e3, lw=0.8, label="start - deadline")
    ax.set(xlabel="time (s)", ylabel="ms", title="cycle start lateness (jitter)")
    ax.legend(loc="upper right", fontsize=8)


def _plot_histograms(ax, rows: np.ndarray) -> None:
    act = rows[:, STAGE_COL["actuate"]]
    series = {
        "cycle": (act - rows[:, START]) * 1e3,
        "end-to-end": (act - rows[:, FRAME_STAMP]) * 1e3,
    }
    for label, values in series.items():
        values = values[np.isfinite(values)]
        if values.size:
            ax.hist(
                values,
                bins=80,
                alpha=0.6,
                label=f"{label} (p99 {np.percentile(values, 99):.2f} ms)",
            )
    ax.set(xlabel="ms", ylabel="cycles", title="latency histograms (all kept cycles)", yscale="log")
    ax.legend(loc="upper right", fontsize=8)
