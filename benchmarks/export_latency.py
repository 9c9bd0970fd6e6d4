"""Export time and parity for the tiny and small presets (every head), and ONNX Runtime vs
PyTorch eager latency at batch 1 for the small preset, measured side by side in one run.

Each backend is timed in its own worker process by the benchmark harness
(`vla_edge.bench.harness.wall_times`: ORT's spinning threads distort torch timings when both live
in one process), and the rounds alternate so that background load hits both alike.

    python benchmarks/export_latency.py --out benchmarks/results/export_latency
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

HEADS = ("bins", "continuous", "flow")


def export_all(work: Path) -> list[dict]:
    from vla_edge.export import ExportConfig, export_checkpoint
    from vla_edge.policy.checkpoints import create_checkpoint

    rows = []
    for preset in ("tiny", "small"):
        for head in HEADS:
            ck = work / f"ck-{preset}-{head}"
            create_checkpoint(ck, preset, head, None, ("front",), 4, 8, "own", 0, True)
            for mono in (False, True):
                out = work / f"b-{preset}-{head}-{'mono' if mono else 'split'}"
                t = time.perf_counter()
                b = export_checkpoint(ck, out, ExportConfig(monolithic=mono, force=True))
                seconds = time.perf_counter() - t
                p = b.manifest["validation"]["parity"]
                rows.append(
                    {
                        "preset": preset,
                        "head": head,
                        "layout": b.layout,
                        "export_s": round(seconds, 2),
                        "passed": p["passed"],
                        "max_abs_actions": p["max_abs_error"]["actions"],
                        "max_abs_embedding": p["max_abs_error"].get("instruction_embedding"),
                        "worst_action_error": max(v["max"] for v in p["action_error"].values()),
                        "identical_bins": p["identical_bins"],
                        "graph_mb": round(b.size_bytes() / 1e6, 2),
                    }
                )
                print(json.dumps(rows[-1]), flush=True)
    return rows


def latency(work: Path, rounds: int, iters: int, threads: int) -> dict:
    from vla_edge.bench.harness import MeasureConfig, percentiles, wall_times

    cfg = MeasureConfig(iterations=rounds * iters, warmup=10, rounds=rounds, threads=threads)
    results = {}
    for head in HEADS:
        path = str(work / f"b-small-{head}-split")
        results[head] = wall_times({"onnxrt": (path, "onnxrt"), "torch": (path, "torch")}, cfg)
    summary = {}
    for head, per in results.items():
        stats = {b: {**percentiles(t), "n": len(t)} for b, t in per.items()}
        stats["torch_over_onnxrt_p50"] = stats["torch"]["p50"] / stats["onnxrt"]["p50"]
        summary[head] = stats
        print(head, json.dumps(stats), flush=True)
    return summary


def markdown(rows: list[dict], lat: dict, args) -> str:
    lines = [
        "# Export and latency benchmark",
        "",
        f"Command: `python benchmarks/export_latency.py --rounds {args.rounds} --iters "
        f"{args.iters} --threads {args.threads}`",
        "",
        f"Machine: {os.cpu_count()} CPU cores, no GPU; load average "
        f"{os.getloadavg()[0]:.1f}; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        "",
        "## Export (parity: ONNX Runtime vs PyTorch, 4 fresh samples)",
        "",
        "| preset | head | layout | export s | max abs actions | max abs embedding | "
        "identical bins | graphs MB |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        emb = "-" if r["max_abs_embedding"] is None else f"{r['max_abs_embedding']:.1e}"
        bins = "-" if r["identical_bins"] is None else f"{r['identical_bins']:.0%}"
        lines.append(
            f"| {r['preset']} | {r['head']} | {r['layout']} | {r['export_s']} | "
            f"{r['max_abs_actions']:.1e} | {emb} | {bins} | {r['graph_mb']} |"
        )
    lines += [
        "",
        f"## Latency, small preset, batch 1, {args.threads} threads, per predict() "
        "(instruction cached), ms",
        "",
        "| head | ORT p50 | ORT p99 | torch p50 | torch p99 | torch/ORT (p50) |",
        "|---|---|---|---|---|---|",
    ]
    for head, s in lat.items():
        lines.append(
            f"| {head} | {s['onnxrt']['p50']:.2f} | {s['onnxrt']['p99']:.2f} | "
            f"{s['torch']['p50']:.2f} | {s['torch']['p99']:.2f} | "
            f"{s['torch_over_onnxrt_p50']:.2f}x |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", default="benchmarks/results/export_latency")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--iters", type=int, default=100)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        rows = export_all(work)
        lat = latency(work, args.rounds, args.iters, args.threads)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps({"export": rows, "latency": lat}, indent=2))
    out.with_suffix(".md").write_text(markdown(rows, lat, args))
    print(markdown(rows, lat, args))


if __name__ == "__main__":
    main()
