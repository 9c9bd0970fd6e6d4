"""Recorded results for the LeRobot adapters: per policy type (the tiny offline checkpoints of
tests/lerobot/tiny.py: random weights, small widths), the parity figures (ONNX Runtime vs the
graph module, and the bundle vs LeRobot's own preprocessor -> policy -> postprocessor), export
time, graph sizes, the Orin roofline ESTIMATE per graph (`vla-edge benchmark --device orin`),
and FP16 / INT8 error against the FP32 bundle in action units (`vla-edge quantize`, random
calibration frames: these checkpoints come with no demonstrations).

Runs in the Python 3.12 LeRobot venv (it builds the checkpoints with LeRobot):

    .venv-lerobot/bin/python benchmarks/lerobot_results.py --out benchmarks/results/lerobot_policies
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
KINDS = ("act", "diffusion", "smolvla", "pi0", "pi05")


def cli(*args) -> dict:
    exe = Path(sys.executable).parent / "vla-edge"
    res = subprocess.run([str(exe), *map(str, args), "--json"], capture_output=True, text=True)
    if res.returncode != 0:
        return {"error": (res.stderr or res.stdout).strip().splitlines()[-3:]}
    return json.loads(res.stdout)


def one(kind: str, work: Path, threads: int) -> dict:
    from tests.lerobot import tiny
    from vla_edge.policy.adapters.lerobot.export import export_lerobot

    ctx = tiny.tiny_paligemma() if kind.startswith("pi") else contextlib.nullcontext()
    with ctx:
        ckpt = getattr(tiny, kind)(work / kind / "pretrained_model")
        started = time.perf_counter()
        bundle = export_lerobot(f"lerobot:{ckpt}", work / f"{kind}-fp32")
        seconds = time.perf_counter() - started
    m = bundle.manifest
    val = m["validation"]
    row = {
        "policy_type": kind,
        "adapter": m["lerobot"]["adapter"],
        "export_seconds": round(seconds, 1),
        "parity_onnx_vs_module": val["parity"]["max_abs_error"].get("actions"),
        "parity_samples": val["parity"]["samples"],
        "parity_vs_lerobot_pipeline": val["lerobot_pipeline"]["max_abs_error"]["actions"],
        "lerobot_samples": val["lerobot_pipeline"]["samples"],
        "action_range": [min(bundle.spec.action.low), max(bundle.spec.action.high)],
        "graphs": [
            {
                "file": g["file"],
                "opset": g["opset"],
                "mb": round(_size(bundle.path, g["file"]) / 2**20, 2),
            }
            for g in m["graphs"]
        ],
    }
    bench = cli("benchmark", bundle.path, "--device", "orin", "--threads", threads)
    row["orin_estimate"] = _orin(bench)
    row["quantized"] = {}
    for precision in ("fp16", "int8"):
        q = cli(
            "quantize",
            bundle.path,
            "-o",
            work / f"{kind}-{precision}",
            "--precision",
            precision,
            "--holdout",
            32,
        )
        row["quantized"][precision] = _quant(q)
    return row


def _size(path: Path, file: str) -> int:
    total = (path / file).stat().st_size
    data = path / (file + ".data")
    return total + (data.stat().st_size if data.exists() else 0)


def _orin(report: dict) -> dict:
    """{device: {graph role: ms}} at the bundle's own precision (the first estimate per device)."""
    if "error" in report:
        return report
    out = {}
    for est in report.get("estimates", []):
        if est["device"] not in out:
            out[est["device"]] = {
                role: round(g["latency_ms"], 3) for role, g in est["graphs"].items()
            } | {"precision": est["precision"]}
    return out


def _quant(report: dict) -> dict:
    if "error" in report:
        return report
    parity = report["validation"]["parity"]
    q = report["validation"].get("quantization", {})
    dims = q.get("per_dimension", {})
    return {
        "max_abs_error": parity["max_abs_error"].get("actions"),
        "p99_error_max_over_dims": max((d["p99"] for d in dims.values()), default=None),
        "held_out_samples": parity["samples"],
        "calibration": "random frames" if q.get("heldout", {}).get("random_frames") else "data",
        "passed_budget": q.get("passed"),
        "mb": round(sum(g["size"] for g in report["graphs"]) / 2**20, 2),
    }


def markdown(rows: list[dict], command: str) -> str:
    lines = [
        "# LeRobot policies: parity, export, graph sizes, Orin estimate, FP16/INT8 error",
        "",
        "Tiny offline checkpoints of tests/lerobot/tiny.py (random weights, small widths: the",
        "figures show the adapters work and how the errors compare, not the speed of the real",
        "SmolVLA-450M / pi0-3B). Errors are max |a - a_ref| in the dataset's action units.",
        "Orin latencies are roofline ESTIMATES (`vla-edge benchmark --device orin`), not",
        "measurements. INT8 is static Q/DQ calibrated on random frames (no demonstrations).",
        "",
        f"Command: `{command}`",
        "",
        "| policy | ONNX vs module | bundle vs LeRobot pipeline | export s | graphs (MB) "
        "| AGX / NX / Nano est. ms | FP16 err | INT8 err |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['policy_type']} | failed: {r['error']} | | | | | | |")
            continue
        graphs = ", ".join(f"{g['file']} {g['mb']}" for g in r["graphs"])
        est = r["orin_estimate"]
        if "error" in est:
            orin = "failed"
        else:
            orin = " / ".join(
                f"{sum(v for k, v in d.items() if k != 'precision'):.2f}" for d in est.values()
            )
        q = {
            p: (f"{v['max_abs_error']:.2e}" if "error" not in v else f"failed: {v['error'][-1]}")
            for p, v in r["quantized"].items()
        }
        lines.append(
            f"| {r['policy_type']} | {r['parity_onnx_vs_module']:.1e} ({r['parity_samples']}) "
            f"| {r['parity_vs_lerobot_pipeline']:.1e} ({r['lerobot_samples']}) "
            f"| {r['export_seconds']} | {graphs} | {orin} | {q['fp16']} | {q['int8']} |"
        )
    lines += [
        "",
        "Sample counts in parentheses. Action ranges (dataset units) per policy are in the JSON;",
        "the FP16/INT8 held-out counts and budget verdicts too.",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/lerobot_policies")
    ap.add_argument("--kinds", default=",".join(KINDS))
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for kind in args.kinds.split(","):
            try:
                rows.append(one(kind, Path(tmp), args.threads))
            except Exception as exc:  # record a failure, go on with the other types
                rows.append({"policy_type": kind, "error": f"{type(exc).__name__}: {exc}"[:300]})
            print(json.dumps(rows[-1])[:400], flush=True)
    command = "python benchmarks/lerobot_results.py " + " ".join(sys.argv[1:])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(rows, indent=2) + "\n")
    args.out.with_suffix(".md").write_text(markdown(rows, command.strip()))


if __name__ == "__main__":
    main()
