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
"""

from __future__ import annotations

import argparse
import json
import os
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


def success(path: str, suite: str | None, episodes: int) -> float | str:
    if not suite:
        return "not run"
    from vla_edge.bundle import Bundle
    from vla_edge.compress.quantize import taskgate

    fn, reason = taskgate._evaluator()
    if fn is None:
        return f"n/a ({reason})"
    return taskgate.success_rate(Bundle.load(path), suite, episodes)


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
            succ = (
                "= ort fp32" if torch_row and args.eval else success(path, args.eval, args.episodes)
            )
            rows[name] = {**acc, "latency": lat[name], "success": succ}
            if p in quant:
                rows[name]["quantize_s"] = quant[p]["quantize_s"]
        from vla_edge.bundle import Bundle

        spec = Bundle.load(parent).spec.to_dict()
    load = {"before": load_before, "after": os.getloadavg()}
    return {"rows": rows, "spec": spec, "args": vars(args), "loadavg_1_5_15": load}


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
    lines = [
        "# Quantization: precisions side by side",
        "",
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
        + " | float layers | success |",
        "|---|---|---|---|---|---|" + "---|" * len(dims) + "---|---|",
    ]
    for name, r in rows.items():
        bins = "-" if r["identical_bins"] is None else f"{r['identical_bins']:.2%}"
        succ = r["success"] if isinstance(r["success"], str) else f"{r['success']:.0%}"
        errs = " | ".join(f"{r['p99_error'][d]:.3g}" for d in dims)
        lines.append(
            f"| {name} | {r['latency']['p50']:.2f} | {r['latency']['p99']:.2f} | "
            f"{torch_p50 / r['latency']['p50']:.2f}x | {r['size_bytes'] / 1e6:.2f} | {bins} | "
            f"{errs} | {r.get('float_layers', '-')} | {succ} |"
        )
    return "\n".join(lines) + "\n"


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
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--iters", type=int, default=50)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default="benchmarks/results/quantize_compare")
    ap.add_argument("--note", default="", help="what the policy is (printed in the report)")
    ap.add_argument("--keep", default=None, help="keep the bundles in this folder")
    args = ap.parse_args()
    result = run(args)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    out.with_suffix(".md").write_text(markdown(result))
    print(markdown(result))


if __name__ == "__main__":
    main()
