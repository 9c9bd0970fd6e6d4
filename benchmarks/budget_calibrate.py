"""Where should the default quantization budget sit? Measured on the shipped policies.

For each policy: its FP32 bundle, the same calibration / held-out demonstration frames for every
row, and candidates that should pass (`vla-edge quantize` fp16, int8, int8-dynamic; ONNX
Runtime's `quantize_dynamic` defaults) and candidates that are broken by construction:
ONNX Runtime's `quantize_static` defaults (it quantizes the attention Softmax input; see FACTS),
and an observation-blind policy (the parent's own actions, each answered for another held-out
observation: plausible actions that ignore what the robot sees). Every row is judged by
`vla_edge.budget.judge` against the parent on the held-out frames: per action dimension the p99
absolute error as a multiple of the parent's standard deviation there, and identical bins.

    python benchmarks/budget_calibrate.py --policy mt10-bins --calib data/mt10-demos \
        --policy mt10-continuous --calib data/mt10-demos \
        --policy mt10-vision-bins --calib data/mt10-vision-demos \
        --work /tmp/budget --out benchmarks/results/budget_calibrate
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

OURS = ("fp16", "int8", "int8-dynamic")
ASSETS = Path(__file__).resolve().parents[1] / "vla_edge" / "assets" / "policies"


def parent_bundle(name: str, work: Path) -> Path:
    from vla_edge.export import ExportConfig, export_checkpoint

    out = work / f"{name}-fp32"
    if not (out / "manifest.json").is_file():
        export_checkpoint(ASSETS / name, out, ExportConfig())
    return out


def candidates(parent, calib, args, work: Path, calib_path: str) -> dict[str, dict]:
    """{label: {role: graph path}} for every candidate built from graphs."""
    from int8_peers import peers

    from vla_edge.bundle import Bundle
    from vla_edge.compress.quantize import Budget, QuantizeConfig, quantize
    from vla_edge.compress.quantize.evaluate import EMBEDDING, batches, observation_feeds, run_graph
    from vla_edge.policy.tokenizer import load_tokenizer

    fp32 = {g["role"]: parent.path / g["file"] for g in parent.graphs}
    out = {"FP32 (parent)": fp32}
    loose = Budget(spread=1e6)  # measure only: this script judges every row itself
    for precision in OURS:
        cfg = QuantizeConfig(
            precision=precision,
            calib=calib_path,
            calib_size=args.calib_size,
            holdout=args.holdout,
            budget=loose,
            force=True,
        )
        b = quantize(parent, work / f"{parent.name}-{precision}", cfg, progress=None)
        b = Bundle.load(b.path)
        out[f"vla-edge {precision}"] = {g["role"]: b.path / g["file"] for g in b.graphs}
    spec = parent.spec
    tok = load_tokenizer(
        spec.instruction.tokenizer, spec.instruction.max_tokens, parent.tokenizer_dir
    )
    feeds = observation_feeds(spec, calib, tok)
    feeds[EMBEDDING] = run_graph(fp32["instruction_encoder"], batches(feeds, 16), EMBEDDING)
    feeds.pop("input_ids")
    peer_dir = work / f"{parent.name}-peers"
    peer_dir.mkdir(exist_ok=True)
    for name, path in peers(fp32["policy"], peer_dir, batches(feeds, 1)).items():
        out[name] = {**fp32, "policy": path}
    return out


def measure_policy(name: str, calib_path: str, args, work: Path) -> dict:
    from vla_edge.budget import Budget, judge
    from vla_edge.bundle import Bundle
    from vla_edge.compress.quantize.calibration import load_calibration
    from vla_edge.compress.quantize.evaluate import Evaluator
    from vla_edge.policy.tokenizer import load_tokenizer

    parent = Bundle.load(parent_bundle(name, work))
    spec = parent.spec
    tok = load_tokenizer(
        spec.instruction.tokenizer, spec.instruction.max_tokens, parent.tokenizer_dir
    )
    data = load_calibration(calib_path, spec, args.calib_size + args.holdout, 0)
    calib, held = data.split(args.holdout, args.calib_size, 0)
    ev = Evaluator(parent, held, tok)
    ref = ev.ref["actions"]
    outputs = {
        label: ev.run(graphs)["actions"]
        for label, graphs in candidates(parent, calib, args, work, calib_path).items()
    }
    # observation-blind: each held-out observation answered with the parent's action for the
    # observation half the set away (another step or another task)
    outputs["observation-blind (parent, other frame)"] = np.roll(ref, len(ref) // 2, axis=0)
    default = Budget.default(spec)
    rows = {}
    for label, actions in outputs.items():
        v = judge(ref, actions, spec, default)
        rows[label] = {
            "identical_bins": v.identical_bins,
            "p99_over_std": {k: d["p99_over_std"] for k, d in v.dims.items()},
            "max_p99_over_std": max(d["p99_over_std"] for d in v.dims.values()),
            "p99": {k: d["p99"] for k, d in v.dims.items()},
            "default_budget_passed": v.passed,
            "reasons": v.reasons,
        }
    std = judge(ref, ref, spec, default).dims
    return {
        "policy": name,
        "head": spec.action.representation,
        "calib": calib_path,
        "calibration": len(calib),
        "heldout": len(held),
        "default_budget": default.describe(),
        "parent_std": {k: d["parent_std"] for k, d in std.items()},
        "units": {k: d["unit"] for k, d in std.items()},
        "rows": rows,
    }


def markdown(result: dict) -> str:
    lines = [
        "# The default quantization budget, measured on the shipped policies",
        "",
        f"`{result['command']}`",
        "",
        "Each row is judged by `vla_edge.budget.judge` against the FP32 parent on the same "
        "held-out demonstration frames (never the calibration frames): p99 absolute action error "
        "per dimension divided by the parent's standard deviation in that dimension over those "
        "frames (its own variation across observations), and identical action bins. Broken by "
        "construction: ONNX Runtime's `quantize_static` defaults and the observation-blind row "
        "(the parent's actions answered for other held-out frames).",
        "",
    ]
    for p in result["policies"]:
        dims = list(p["parent_std"])
        stds = ", ".join(f"{d} {p['parent_std'][d]:.3g} {p['units'][d]}" for d in dims)
        lines += [
            f"## {p['policy']} ({p['head']} head): {p['calibration']} calibration / "
            f"{p['heldout']} held-out frames",
            "",
            f"Parent std on the held-out frames: {stds}. Default budget: {p['default_budget']}.",
            "",
            "| candidate | identical bins | "
            + " | ".join(f"p99/std {d}" for d in dims)
            + " | max p99/std | default budget |",
            "|---|---|" + "---|" * len(dims) + "---|---|",
        ]
        for label, r in p["rows"].items():
            bins = "-" if r["identical_bins"] is None else f"{r['identical_bins']:.1%}"
            cells = " | ".join(f"{r['p99_over_std'][d]:.3f}" for d in dims)
            verdict = "pass" if r["default_budget_passed"] else "FAIL"
            lines.append(
                f"| {label} | {bins} | {cells} | {r['max_p99_over_std']:.3f} | {verdict} |"
            )
        lines.append("")
    lines.append(f"Load average {result['loadavg'][0]:.1f} -> {result['loadavg'][1]:.1f}.")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--policy", action="append", required=True)
    ap.add_argument("--calib", action="append", required=True)
    ap.add_argument("--calib-size", type=int, default=128)
    ap.add_argument("--holdout", type=int, default=512)
    ap.add_argument("--work", default=None)
    ap.add_argument("--out", default="benchmarks/results/budget_calibrate")
    args = ap.parse_args()
    if len(args.policy) != len(args.calib):
        ap.error("give one --calib per --policy")
    before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(args.work or tmp)
        work.mkdir(parents=True, exist_ok=True)
        policies = [
            measure_policy(name, calib, args, work)
            for name, calib in zip(args.policy, args.calib, strict=True)
        ]
    result = {
        "command": "python benchmarks/budget_calibrate.py " + " ".join(sys.argv[1:]),
        "args": vars(args),
        "loadavg": [before, os.getloadavg()[0]],
        "policies": policies,
    }
    out = Path(args.out)
    out.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    out.with_suffix(".md").write_text(markdown(result))
    print(markdown(result))


if __name__ == "__main__":
    main()
