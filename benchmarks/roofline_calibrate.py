"""Calibrate the roofline estimator on this CPU and report its error.

For the tiny / small / base presets (random weights; latency does not depend on them) this
exports a bundle, quantizes it with `vla-edge quantize --precision int8` (static Q/DQ), times
every graph with ONNX Runtime at batch 1 on neutral inputs, and compares
the roofline estimate against the measured median:
- with the GPU-style assumed efficiencies (what the Jetson estimate uses),
- with efficiencies fitted on all graphs (in-sample),
- leave-one-preset-out: fitted on the other presets, tested on the held-out one.
Graphs are timed in rounds whose order rotates, so background load hits them alike.

    python benchmarks/roofline_calibrate.py --work /tmp/calib \
        --out benchmarks/results/bench_calibration_host
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from vla_edge.bench import calibrate
from vla_edge.bench.estimate import JETSON_EFFICIENCY, predict
from vla_edge.bench.roofline import analyze, load_model

PRESETS = ("tiny", "small", "base")


def cli(*args: str) -> None:
    exe = Path(sys.executable).with_name("vla-edge")
    proc = subprocess.run([str(exe), *args], capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"vla-edge {' '.join(args)} failed: {proc.stderr[-500:]}")


def make_bundle(work: Path, preset: str) -> Path:
    ck, bundle = work / f"ck-{preset}", work / f"b-{preset}"
    if not (ck / "config.json").is_file():
        cli("model", "create", "--preset", preset, "-o", str(ck), "--force")
    if not (bundle / "manifest.json").is_file():
        cli("export", str(ck), "-o", str(bundle), "--force")
    return bundle


def int8_bundle(work: Path, preset: str, fp32: Path) -> Path:
    """`vla-edge quantize --precision int8` (static Q/DQ, what users deploy); its accuracy
    budget may be missed on random weights, which does not matter for timing (--keep-failed)."""
    out = work / f"b-{preset}-int8"
    if not (out / "manifest.json").is_file():
        cli(
            "quantize", str(fp32), "--precision", "int8", "-o", str(out), "--force", "--keep-failed"
        )
    return out


def feeds_for(sess) -> dict[str, np.ndarray]:
    types = {"tensor(float)": np.float32, "tensor(int64)": np.int64, "tensor(uint8)": np.uint8}
    out = {}
    for i in sess.get_inputs():
        shape = [d if isinstance(d, int) else 1 for d in i.shape]
        fill = 1 if "mask" in i.name else 0
        out[i.name] = np.full(shape, fill, types[i.type])
    return out


def time_graphs(
    paths: list[Path], threads: int, rounds: int, iters: int, clock: str
) -> tuple[dict, dict]:
    """Peaks (best of the rounds) and, per graph, the median of each round; `best` (the
    quietest round's median) is what the estimator is compared with, since other jobs share
    this machine's two cores. The micro-benchmarks run in every round too."""
    from vla_edge.backends.onnxrt import SessionFromOnnx

    sessions = {str(p): SessionFromOnnx(p, ["cpu"], threads)() for p in paths}
    feeds = {k: feeds_for(s) for k, s in sessions.items()}
    times: dict[str, list[list[float]]] = {k: [] for k in sessions}
    for k, s in sessions.items():
        for _ in range(3):
            s.run(None, feeds[k])
    keys = list(sessions)
    peaks: list[dict[str, float]] = []
    for r in range(rounds):
        peaks.append(calibrate.measure_peaks(threads, budget_s=0.5, clock=clock))
        order = keys[r % len(keys) :] + keys[: r % len(keys)]
        for k in order:
            time.sleep(0.02)
            one = []
            now = calibrate.CLOCKS[clock]
            for _ in range(iters):
                t = now()
                sessions[k].run(None, feeds[k])
                one.append((now() - t) * 1e3)
            times[k].append(one)
    best_peaks = {k: max(p[k] for p in peaks) for k in peaks[0]}
    return best_peaks, {
        k: {
            "best": float(min(np.median(r) for r in v)),
            "median": float(np.median(np.concatenate(v))),
            "round_medians": [float(np.median(r)) for r in v],
        }
        for k, v in times.items()
    }


def graphs(work: Path) -> list[dict]:
    """Every graph of the fp32 bundles, and the int8 graphs of their quantized children."""
    out = []
    for preset in PRESETS:
        fp32 = make_bundle(work, preset)
        for bundle in (fp32, int8_bundle(work, preset, fp32)):
            manifest = json.loads((bundle / "manifest.json").read_text())
            for g in manifest["graphs"]:
                precision = g.get("precision", "fp32")
                if bundle != fp32 and precision == "fp32":
                    continue  # the same fp32 graph as the parent's
                out.append(
                    {
                        "preset": preset,
                        "role": g["role"],
                        "precision": precision,
                        "path": bundle / g["file"],
                    }
                )
    return out


def errors_for(points, profile, eff) -> list[float]:
    return [float(predict(c, profile, eff, "").latency_ms / m) for c, m in points]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--work", type=Path, default=Path("/tmp/vla-calib"))
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/bench_calibration_host"))
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--iters", type=int, default=10)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument(
        "--clock",
        choices=["thread", "wall"],
        default="thread",
        help="thread: CPU time of the calling thread (needs --threads 1; immune to other jobs)",
    )
    args = ap.parse_args()
    if args.clock == "thread" and args.threads != 1:
        raise SystemExit("--clock thread needs --threads 1 (ORT then computes in this thread)")
    args.work.mkdir(parents=True, exist_ok=True)
    threads = args.threads
    items = graphs(args.work)
    load_before = os.getloadavg()
    peaks, measured = time_graphs(
        [g["path"] for g in items], threads, args.rounds, args.iters, args.clock
    )
    load_after = os.getloadavg()
    profile = calibrate.host_profile(peaks)
    for g in items:
        g["timing"] = measured[str(g["path"])]
        g["measured_ms"] = g["timing"]["best"]
        g["cost"] = analyze(load_model(g["path"]), g["precision"], 1, "onnxruntime")
    result = evaluate(items, profile, threads)
    result["peaks"] = peaks
    result["clock"] = args.clock
    result["loadavg_before_after"] = [load_before, load_after]
    result["profile"] = profile.to_dict()
    write(result, args.out)


def evaluate(items: list[dict], profile, threads: int) -> dict:
    base = calibrate.host_efficiency(threads)
    assumed = dataclasses.replace(JETSON_EFFICIENCY, tile=base.tile, units=threads)
    points = [(g["cost"], g["measured_ms"]) for g in items]
    fitted = calibrate.fit(points, profile, base)
    loo: list[float] = [0.0] * len(items)
    for preset in PRESETS:
        train = [(g["cost"], g["measured_ms"]) for g in items if g["preset"] != preset]
        eff = calibrate.fit(train, profile, base)
        for i, g in enumerate(items):
            if g["preset"] == preset:
                loo[i] = errors_for([(g["cost"], g["measured_ms"])], profile, eff)[0]
    rows = []
    for i, g in enumerate(items):
        c = g["cost"]
        rows.append(
            {
                "graph": f"{g['preset']}/{g['role']}",
                "precision": g["precision"],
                "gflop": c.flops / 1e9,
                "mbytes": c.bytes / 1e6,
                "measured_ms": g["measured_ms"],
                "measured_all_rounds_median_ms": g["timing"]["median"],
                "estimate_assumed_ms": predict(c, profile, assumed, "").latency_ms,
                "estimate_fitted_ms": predict(c, profile, fitted, "").latency_ms,
                "estimate_leave_one_preset_out_ms": loo[i] * g["measured_ms"],
            }
        )
    return {
        "kind": "calibration",
        "device": "host",
        "threads": threads,
        "efficiency_assumed": assumed.to_dict(),
        "efficiency_fitted": fitted.to_dict(),
        "graphs": rows,
        "error_assumed": calibrate.summarize(np.log(errors_for(points, profile, assumed))),
        "error_fitted_in_sample": calibrate.summarize(np.log(errors_for(points, profile, fitted))),
        "error_leave_one_preset_out": calibrate.summarize(np.log(loo)),
        "gpu": "not calibrated: no GPU or Jetson was available to this task; the Jetson "
        "estimate uses assumed efficiencies (see vla_edge/bench/estimate.py)",
    }


def write(result: dict, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    lines = [
        "# Roofline estimator calibration on this CPU (ONNX Runtime, batch 1)",
        "",
        f"Peaks measured: {', '.join(f'{k} {v:.1f}' for k, v in result['peaks'].items())}",
        "",
        f"{result['threads']} ONNX Runtime thread(s), clock: {result['clock']} (thread = CPU "
        "time of the computing thread, immune to other jobs). "
        "measured ms = median of the quietest round (the machine is shared; 1-min load average "
        f"before/after: {result['loadavg_before_after'][0][0]:.2f}/"
        f"{result['loadavg_before_after'][1][0]:.2f}).",
        "",
        "| graph | precision | GFLOP | MB moved | measured ms | est. assumed | est. fitted "
        "| est. LOPO |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in result["graphs"]:
        lines.append(
            f"| {r['graph']} | {r['precision']} | {r['gflop']:.3f} | {r['mbytes']:.1f} | "
            f"{r['measured_ms']:.2f} | {r['estimate_assumed_ms']:.2f} | "
            f"{r['estimate_fitted_ms']:.2f} | {r['estimate_leave_one_preset_out_ms']:.2f} |"
        )
    lines.append("")
    for key in ("error_assumed", "error_fitted_in_sample", "error_leave_one_preset_out"):
        e = result[key]
        lines.append(
            f"- {key}: mean |error| {e['mean_abs_pct']:.0f} %, max {e['max_abs_pct']:.0f} %, "
            f"median {e['median_pct']:+.0f} %"
        )
    lines += [
        "",
        f"- fitted efficiency: {result['efficiency_fitted']}",
        f"- GPU: {result['gpu']}",
        "",
    ]
    out.with_suffix(".md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
