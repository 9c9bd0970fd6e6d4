"""Precisions side by side, in one run: PyTorch eager FP32, ONNX Runtime FP32, FP16, INT8 dynamic,
INT8 static (Q/DQ) and the mixed-precision bundle. For each: latency p50/p99 at batch 1 per
predict() (instruction cached), graph size, action error and identical bins against FP32 on
held-out observations, and closed-loop success when a sim suite is given and available.

Each backend is timed in its own subprocess (ONNX Runtime's spinning threads distort torch
timings in one process) and the rounds alternate, so background load hits every variant alike.

    python benchmarks/quantize_compare.py --preset small --head bins \
        --out benchmarks/results/quantize_compare_small_bins
    python benchmarks/quantize_compare.py --bundle exports/shipped --calib DEMOS --eval mt10 \
        --out benchmarks/results/quantize_compare_shipped

With `--eval`, every ONNX Runtime row runs the same evaluation seeds (`--eval-threads`, 1 by
default) and its per-task successes are recorded; with `--vision-share`, each ONNX Runtime row's
per-frame graph is profiled node by node (benchmarks/vision_share.py) for the camera encoders'
share of its time.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shlex
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

PRECISIONS = ("fp16", "int8-dynamic", "int8", "mixed")


def make_parent(work: Path, preset: str, head: str) -> Path:
    from vla_edge.export import ExportConfig, export_checkpoint
    from vla_edge.policy.checkpoints import create_checkpoint

    ck = work / f"ck-{preset}-{head}"
    create_checkpoint(ck, preset, head, None, ("front",), 4, 8, "own", 0, True)
    return export_checkpoint(ck, work / "fp32", ExportConfig(force=True)).path


def quantize_all(parent: Path, work: Path, args) -> dict[str, dict]:
    from vla_edge.bundle import Bundle
    from vla_edge.compress.quantize import Budget, QuantizeConfig, quantize

    spec = Bundle.load(parent).spec
    out = {}
    for precision in PRECISIONS:
        budget = Budget.parse(args.budget, spec) if precision == "mixed" and args.budget else None
        cfg = QuantizeConfig(
            precision=precision,
            calib=args.calib,
            calib_size=args.calib_size,
            holdout=args.holdout,
            budget=budget,
            granularity=args.granularity,
            calib_method=args.calib_method,
            force=True,
        )
        t = time.perf_counter()
        b = quantize(parent, work / precision, cfg, progress=lambda m: None)
        seconds = time.perf_counter() - t
        out[precision] = {"path": str(b.path), "quantize_s": round(seconds, 1)}
        print(f"quantized {precision} in {seconds:.1f} s", flush=True)
    return out


def latency(variants: dict[str, tuple[str, str]], rounds: int, iters: int, threads: int) -> dict:
    """Each variant in its own worker process, alternating rounds (vla_edge.bench.harness)."""
    from vla_edge.bench.harness import MeasureConfig, wall_times

    cfg = MeasureConfig(iterations=rounds * iters, warmup=10, rounds=rounds, threads=threads)
    per = wall_times(variants, cfg)
    return {
        name: {"p50": float(np.median(t)), "p99": float(np.percentile(t, 99)), "n": len(t)}
        for name, t in per.items()
    }


def accuracy(path: str) -> dict:
    from vla_edge.bundle import Bundle

    b = Bundle.load(path)
    q = b.manifest["validation"]["quantization"]
    return {
        "identical_bins": q["identical_bins"],
        "p99_error": {k: v["p99"] for k, v in q["action_error"].items()},
        "max_error": {k: v["max"] for k, v in q["action_error"].items()},
        "units": {k: v["unit"] for k, v in q["action_error"].items()},
        "passed": q["passed"],
        "heldout": q["heldout"],
        "float_layers": len(b.manifest["validation"].get("mixed", {}).get("float_groups", [])),
        "size_bytes": b.size_bytes(),
    }


def success(path: str, suite: str | None, episodes: int, threads: int = 1) -> tuple:
    """(success rate or why not, {task: [successes, episodes]}) on the suite's evaluation seeds
    (the same for every row), ONNX Runtime with `threads` threads."""
    if not suite:
        return "not run", {}
    from vla_edge.compress.quantize import taskgate

    fn, reason = taskgate._evaluator()  # noqa: SLF001 - says why the sim is missing
    if fn is None:
        return f"n/a ({reason})", {}
    from vla_edge.policy.policy import Policy

    with Policy.load(path, backend="onnxrt", threads=threads) as policy:
        report = fn(policy, suite=suite, episodes=episodes, progress=False)
    tasks = {t: [r["successes"], r["episodes"]] for t, r in report["tasks"].items()}
    print(f"  success {path}: {report['success_rate']:.0%} of {report['episodes']}", flush=True)
    return float(report["success_rate"]), tasks


def _vision_share_module():
    spec = importlib.util.spec_from_file_location(
        "vision_share", Path(__file__).with_name("vision_share.py")
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def vision_share(path: str, data: str, samples: int, iters: int, threads: int) -> dict:
    """The camera encoders' share of the per-frame graph's kernel time (ORT node profiling)."""
    from vla_edge.bundle import Bundle

    vs = _vision_share_module()
    b = Bundle.load(path)
    graph = next(g for g in b.graphs if g["role"] in ("policy", "monolithic"))
    feeds = vs.feeds(b, data, samples)
    return vs.profile(b.path / graph["file"], feeds, iters, threads, b.spec.camera_names)


def parent_row(parent: Path, torch: bool) -> dict:
    from vla_edge.bundle import Bundle

    b = Bundle.load(parent)
    parity = b.manifest["validation"]["parity"]
    size = b.size_bytes()
    if torch and b.source_dir is not None:
        size = (b.source_dir / "model.safetensors").stat().st_size
    return {
        "identical_bins": parity["identical_bins"] if torch else 1.0,
        "p99_error": {k: (v["max"] if torch else 0.0) for k, v in parity["action_error"].items()},
        "units": {k: v["unit"] for k, v in parity["action_error"].items()},
        "passed": True,
        "size_bytes": size,
    }


def run(args) -> dict:
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(args.keep or tmp)
        if args.checkpoint:
            from vla_edge.export import ExportConfig, export_checkpoint

            args.bundle = str(
                export_checkpoint(args.checkpoint, work / "fp32", ExportConfig()).path
            )
        parent = Path(args.bundle) if args.bundle else make_parent(work, args.preset, args.head)
        quant = quantize_all(parent, work, args)
        variants = {"torch eager fp32": (str(parent), "torch"), "ort fp32": (str(parent), "onnxrt")}
        variants.update({f"ort {p}": (quant[p]["path"], "onnxrt") for p in PRECISIONS})
        lat = latency(variants, args.rounds, args.iters, args.threads)
        rows = {}
        for name, (path, _) in variants.items():
            p = name.split(" ", 1)[1].replace("eager ", "")
            acc = parent_row(parent, "torch" in name) if p == "fp32" else accuracy(path)
            torch_row = "torch" in name  # same weights as ort fp32 (export parity): not re-run
            if torch_row and args.eval:
                succ, tasks = "= ort fp32", {}
            else:
                succ, tasks = success(path, args.eval, args.episodes, args.eval_threads)
            rows[name] = {**acc, "latency": lat[name], "success": succ, "tasks": tasks}
            if args.vision_share and not torch_row:
                data = args.calib
                rows[name]["vision"] = vision_share(path, data, 32, args.share_iters, args.threads)
            if p in quant:
                rows[name]["quantize_s"] = quant[p]["quantize_s"]
        from vla_edge.bundle import Bundle

        spec = Bundle.load(parent).spec.to_dict()
    load = {"before": load_before, "after": os.getloadavg()}
    command = "python " + shlex.join(sys.argv)
    return {
        "command": command,
        "rows": rows,
        "spec": spec,
        "args": vars(args),
        "loadavg_1_5_15": load,
    }


def markdown(result: dict) -> str:
    args, rows = result["args"], result["rows"]
    torch_p50 = rows["torch eager fp32"]["latency"]["p50"]
    dims = list(next(iter(rows.values()))["p99_error"])
    units = next(iter(rows.values()))["units"]
    src = (
        args.get("checkpoint")
        or args["bundle"]
        or f"random-init {args['preset']}/{args['head']} (untrained)"
    )
    if args.get("note"):
        src = f"{src} ({args['note']})"
    share = any("vision" in r for r in rows.values())
    lines = [
        "# Quantization: precisions side by side",
        "",
        *([f"`{result['command']}`", ""] if result.get("command") else []),
        f"Policy: {src}. Calibration: {args['calib'] or 'random frames'}; held-out samples: "
        f"{args['holdout']}. Machine: {os.cpu_count()} CPU cores, no GPU; "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.",
        "",
        f"Latency: batch 1, {args['threads']} threads, per predict() with the instruction cached, "
        f"{args['rounds']} alternating rounds x {args['iters']} calls, each backend in its own "
        "process. Errors: against FP32 on held-out observations (torch row: export parity).",
        "",
        "| variant | p50 ms | p99 ms | speed-up vs torch | size MB | identical bins | "
        + " | ".join(f"p99 err {d} ({units[d]})" for d in dims)
        + " | float layers | success |"
        + (" encoder ms/frame | encoder share |" if share else ""),
        "|---|---|---|---|---|---|" + "---|" * len(dims) + "---|---|" + "---|---|" * share,
    ]
    for name, r in rows.items():
        bins = "-" if r["identical_bins"] is None else f"{r['identical_bins']:.2%}"
        succ = r["success"] if isinstance(r["success"], str) else f"{r['success']:.0%}"
        errs = " | ".join(f"{r['p99_error'][d]:.3g}" for d in dims)
        lines.append(
            f"| {name} | {r['latency']['p50']:.2f} | {r['latency']['p99']:.2f} | "
            f"{torch_p50 / r['latency']['p50']:.2f}x | {r['size_bytes'] / 1e6:.2f} | {bins} | "
            f"{errs} | {r.get('float_layers', '-')} | {succ} |" + (_share_cells(r) if share else "")
        )
    lines += _task_table(result)
    return "\n".join(lines) + "\n"


def _share_cells(row: dict) -> str:
    v = row.get("vision")
    if not v:
        return " - | - |"
    return f" {v['vision_ms_per_frame']:.2f} | {v['vision_share']:.0%} |"


def _task_table(result: dict) -> list[str]:
    """Per-task successes of every evaluated row (the same seeds in every column)."""
    rows = {n: r["tasks"] for n, r in result["rows"].items() if r.get("tasks")}
    if not rows:
        return []
    args = result["args"]
    names = list(rows)
    tasks = list(next(iter(rows.values())))
    lines = [
        "",
        f"Closed loop on `{args['eval']}`: {args['episodes']} episodes per task, the same "
        f"evaluation seeds in every column, ONNX Runtime with {args['eval_threads']} thread(s).",
        "",
        "| task | " + " | ".join(names) + " |",
        "|---|" + "---|" * len(names),
    ]
    for t in tasks:
        cells = " | ".join(f"{rows[n][t][0]}/{rows[n][t][1]}" for n in names)
        lines.append(f"| {t} | {cells} |")
    total = {
        n: [sum(v[0] for v in rows[n].values()), sum(v[1] for v in rows[n].values())] for n in names
    }
    lines.append(
        "| overall | "
        + " | ".join(
            f"**{total[n][0]}/{total[n][1]} ({total[n][0] / total[n][1]:.0%})**" for n in names
        )
        + " |"
    )
    return lines


def _load(result: dict, when: str) -> str:
    return "/".join(f"{x:.1f}" for x in result["loadavg_1_5_15"][when])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--bundle", help="FP32 bundle (with its source checkpoint for the torch row)")
    ap.add_argument("--checkpoint", help="reference checkpoint (e.g. a shipped policy): exported")
    ap.add_argument("--preset", default="small")
    ap.add_argument("--head", default="bins")
    ap.add_argument("--calib", default=None)
    ap.add_argument("--calib-size", type=int, default=128)
    ap.add_argument("--calib-method", default="minmax")
    ap.add_argument("--holdout", type=int, default=64)
    ap.add_argument("--budget", default=None, help="mixed-precision budget (default per head)")
    ap.add_argument("--granularity", default="layer")
    ap.add_argument("--eval", default=None, help="sim suite for closed-loop success")
    ap.add_argument("--episodes", type=int, default=20)
    ap.add_argument("--eval-threads", type=int, default=1, help="ORT threads in the evaluations")
    ap.add_argument(
        "--vision-share",
        action="store_true",
        help="profile each ORT row's per-frame graph: the camera encoders' share (needs --calib)",
    )
    ap.add_argument("--share-iters", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--iters", type=int, default=50)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default="benchmarks/results/quantize_compare")
    ap.add_argument("--note", default="", help="what the policy is (printed in the report)")
    ap.add_argument("--keep", default=None, help="keep the bundles in this folder")
    args = ap.parse_args()
    if args.vision_share and not args.calib:
        ap.error("--vision-share profiles on demonstration frames: give --calib DEMOS")
    result = run(args)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    out.with_suffix(".md").write_text(markdown(result))
    print(markdown(result))


if __name__ == "__main__":
    main()
