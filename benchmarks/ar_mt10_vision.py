"""The autoregressive VLA against the parallel `bins` policy on the camera suite: task success
(from `vla-edge eval` reports on the same seeds), latency per action measured side by side, and
success per millisecond (the Pareto table).

Latency: every variant runs in its own subprocess (ONNX Runtime, batch 1, `--threads`), on real
demonstration frames with their instructions, in rounds whose order rotates, all in one run.
Per variant: milliseconds per predict (one action chunk), per executed action (predict / the
actions executed per chunk) and, for decoder LLMs, per graph call (vision, prefill, each decode
step) from the decode loop's own timings. The instruction changes only with the episode, so as
on the robot the prefix cache hits on every frame but the first of an episode.

    python benchmarks/ar_mt10_vision.py --data DEMOS \
        --variant bins=BUNDLE:EVAL.json --variant ar=BUNDLE:EVAL.json ... \
        --rounds 5 --frames 40 --threads 1 --out benchmarks/results/ar_mt10_vision

A variant may name several eval reports (`BUNDLE:PLAIN.json,ABLATIONS.json`): success comes from
the first, the ablations from all of them (the same seeds). `--render-from RESULTS.json` takes
the latencies measured by an earlier run and only re-reads the success reports (for ablations
recorded after the timing; the bundles need not exist then). A hand-written `## Notes` section
of an existing markdown file is kept.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

TIMER = r"""
import json, sys, numpy as np
from vla_edge.policy.policy import Policy
from vla_edge.sim.data import DemoDataset
path, data, frames, threads = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
p = Policy.load(path, backend="onnxrt", threads=threads)
ds = DemoDataset(data)
per = max(1, frames // 10)
obs = []
for ep in ds.episodes[:: max(1, len(ds.episodes) // 10)][:10]:
    d = ds.load(ep)
    for t in np.linspace(0, ep.length - 1, per).astype(int):
        f = {c: d[f"frames_{c}"][t] for c in ds.cameras}
        obs.append((f, ep.instruction, d["state"][t].astype(np.float32)))
for f, text, s in obs[:3]:
    p.predict(f, text, s)
times, parts = [], []
for f, text, s in obs:
    p.predict(f, text, s)
    times.append(p.last_latency_ms)
    parts.append(p.decode_timing)
print(json.dumps({"times": times, "parts": parts}))
"""


def parse_variant(text: str) -> tuple[str, Path, list[Path]]:
    name, _, rest = text.partition("=")
    bundle, _, reports = rest.partition(":")
    if not name or not bundle:
        raise SystemExit(f"--variant NAME=BUNDLE[:EVAL.json[,EVAL2.json]], got {text!r}")
    return name, Path(bundle), [Path(r) for r in reports.split(",") if r]


def time_variant(bundle: Path, data: Path, frames: int, threads: int) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", TIMER, str(bundle), str(data), str(frames), str(threads)],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def latencies(variants: list, data: Path, rounds: int, frames: int, threads: int) -> dict:
    got: dict[str, dict] = {name: {"times": [], "parts": []} for name, _, _ in variants}
    for r in range(rounds):
        order = variants[r % len(variants) :] + variants[: r % len(variants)]
        for name, bundle, _ in order:
            res = time_variant(bundle, data, frames, threads)
            got[name]["times"] += res["times"]
            got[name]["parts"] += res["parts"]
    return got


def summarize_latency(raw: dict, execute: int) -> dict:
    t = np.asarray(raw["times"])
    out = {
        "predictions": int(t.size),
        "predict_ms_p50": float(np.percentile(t, 50)),
        "predict_ms_p90": float(np.percentile(t, 90)),
        "predict_ms_mean": float(t.mean()),
        "per_action_ms_p50": float(np.percentile(t, 50)) / execute,
    }
    parts = [p for p in raw["parts"] if p]
    if parts:
        steps = [s for p in parts for s in p.get("decode_ms", [])]
        out["vision_ms_p50"] = float(np.median([p["vision_ms"] for p in parts]))
        out["prefill_ms_p50"] = float(np.median([p["prefill_ms"] for p in parts]))
        out["decode_steps"] = len(parts[0].get("decode_ms", []))
        out["decode_step_ms_p50"] = float(np.median(steps)) if steps else 0.0
        prefix = [p["prefix_ms"] for p in parts if "prefix_ms" in p]
        out["prefix_misses"] = len(prefix)
    return out


def success(reports: list[Path]) -> dict | None:
    if not reports:
        return None
    runs = [json.loads(r.read_text()) for r in reports]
    d = runs[0]
    tasks = {k: f"{v['successes']}/{v['episodes']}" for k, v in d["tasks"].items()}
    abl = {
        k: {"successes": a["successes"], "episodes": a["episodes"], "tasks": a.get("tasks", {})}
        for run in runs
        for k, a in (run.get("ablations") or {}).items()
    }
    return {
        "report": ", ".join(str(r) for r in reports),
        "successes": d["successes"],
        "episodes": d["episodes"],
        "success_rate": d["success_rate"],
        "execute": d.get("execute"),
        "tasks": tasks,
        "ablations": abl,
        "eval_latency_ms": d.get("latency_ms"),
    }


def markdown(rows: list[dict], meta: dict) -> str:
    lines = [
        "# The autoregressive VLA against the parallel bins policy on mt10-vision",
        "",
        f"Command: `{meta['command']}`",
        "",
        *(
            [f"Success reports re-read (latencies of the command above): `{meta['rendered']}`", ""]
            if meta.get("rendered")
            else []
        ),
        f"Latency: ONNX Runtime, batch 1, {meta['threads']} thread(s), {meta['rounds']} "
        f"alternating rounds of {meta['frames']} demonstration frames per variant, on "
        f"{meta['host']} (shared machine; load average {meta['load']}). Success: "
        "`vla-edge eval`, the same evaluation seeds for every variant.",
        "",
        "| variant | success | predict p50 ms | per action ms | vision ms | prefill ms "
        "| decode step ms x steps | success % per predict ms |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        lat, s = r["latency"], r["success"]
        rate = f"{s['successes']}/{s['episodes']}" if s else "-"
        steps = (
            f"{lat['decode_step_ms_p50']:.2f} x {lat['decode_steps']}"
            if "decode_steps" in lat
            else "-"
        )
        lines.append(
            f"| {r['name']} | {rate} | {lat['predict_ms_p50']:.2f} | "
            f"{lat['per_action_ms_p50']:.2f} | {_f(lat.get('vision_ms_p50'))} | "
            f"{_f(lat.get('prefill_ms_p50'))} | {steps} | "
            f"{_f(100 * s['success_rate'] / lat['predict_ms_p50']) if s else '-'} |"
        )
    tasks = [t for r in rows if r["success"] for t in r["success"]["tasks"]]
    tasks = list(dict.fromkeys(tasks))
    if tasks:
        named = [r for r in rows if r["success"]]
        lines += ["", "## Per task", "", "| task | " + " | ".join(r["name"] for r in named) + " |"]
        lines.append("| --- |" + " --- |" * len(named))
        for t in tasks:
            cells = " | ".join(r["success"]["tasks"].get(t, "-") for r in named)
            lines.append(f"| {t} | {cells} |")
        abl = [(r["name"], k, a) for r in named for k, a in r["success"]["ablations"].items()]
        if abl:
            lines += ["", "## Ablations (same seeds)", "", "| variant | ablation | success |"]
            lines.append("| --- | --- | --- |")
            for name, k, a in abl:
                lines.append(f"| {name} | {k} | {a['successes']}/{a['episodes']} |")
        for r in named:
            lines += ablation_tasks(r["name"], r["success"], tasks)
    return "\n".join(lines) + "\n"


def ablation_tasks(name: str, s: dict, tasks: list[str]) -> list[str]:
    """Per-task table of one variant: plain success beside each ablation (same seeds)."""
    abl = s["ablations"]
    if not abl:
        return []
    lines = ["", f"### {name}: ablations per task", ""]
    lines.append("| task | plain | " + " | ".join(abl) + " |")
    lines.append("| --- | --- |" + " --- |" * len(abl))
    for t in tasks:
        cells = [_frac(a["tasks"].get(t)) for a in abl.values()]
        lines.append(f"| {t} | {s['tasks'].get(t, '-')} | " + " | ".join(cells) + " |")
    total = [f"**{a['successes']}/{a['episodes']}**" for a in abl.values()]
    lines.append(f"| overall | **{s['successes']}/{s['episodes']}** | " + " | ".join(total) + " |")
    return lines


def _frac(t: dict | None) -> str:
    return "-" if not t else f"{t['successes']}/{t['episodes']}"


def keep_notes(path: Path) -> str:
    """The hand-written `## Notes` section of an existing markdown file (or nothing)."""
    if not path.is_file():
        return ""
    text = path.read_text()
    i = text.find("\n## Notes")
    return "" if i < 0 else text[i:]


def _f(x) -> str:
    return "-" if x is None else f"{x:.2f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--variant", action="append", required=True, help="NAME=BUNDLE[:EVAL.json]")
    ap.add_argument("--data", type=Path, required=True, help="demonstrations (frames to time)")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--frames", type=int, default=40)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--execute", type=int, default=4, help="actions executed per chunk")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument(
        "--render-from",
        type=Path,
        help="results JSON of an earlier run: reuse its latencies, re-read the success reports",
    )
    args = ap.parse_args()
    variants = [parse_variant(v) for v in args.variant]
    if args.render_from is not None:
        render(args, variants)
        return
    t0 = time.time()
    raw = latencies(variants, args.data, args.rounds, args.frames, args.threads)
    rows = []
    for name, bundle, report in variants:
        manifest = json.loads((bundle / "manifest.json").read_text())
        rows.append(
            {
                "name": name,
                "bundle": str(bundle),
                "graphs": [g["role"] for g in manifest["graphs"]],
                "onnx_mb": round(
                    sum((bundle / g["file"]).stat().st_size for g in manifest["graphs"]) / 1e6, 2
                ),
                "latency": summarize_latency(raw[name], args.execute),
                "success": success(report),
            }
        )
    import os

    meta = {
        "command": "python " + " ".join(sys.argv),
        "threads": args.threads,
        "rounds": args.rounds,
        "frames": args.frames,
        "host": f"{platform.machine()} {os.cpu_count()} CPUs",
        "load": " ".join(f"{x:.1f}" for x in os.getloadavg()),
        "seconds": round(time.time() - t0, 1),
    }
    write(args.out, rows, meta)


def write(out: Path, rows: list[dict], meta: dict) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(
        json.dumps({"meta": meta, "variants": rows}, indent=2) + "\n"
    )
    text = markdown(rows, meta)
    out.with_suffix(".md").write_text(text + keep_notes(out.with_suffix(".md")))
    print(text)


def render(args, variants: list) -> None:
    """Latencies from an earlier run's results, success re-read from the reports."""
    old = json.loads(args.render_from.read_text())
    by_name = {r["name"]: r for r in old["variants"]}
    missing = [name for name, _, _ in variants if name not in by_name]
    if missing:
        raise SystemExit(
            f"{args.render_from} has no latency for {missing}; it has {sorted(by_name)}"
        )
    rows = [{**by_name[name], "success": success(reports)} for name, _, reports in variants]
    meta = {**old["meta"], "rendered": "python " + " ".join(sys.argv)}
    write(args.out, rows, meta)


if __name__ == "__main__":
    main()
