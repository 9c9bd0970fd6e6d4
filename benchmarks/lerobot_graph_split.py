"""The graph split of LeRobot's flow-matching VLM policies (SmolVLA, pi0, pi0.5) against their
single-graph bundles, on the tiny offline checkpoints of tests/lerobot/tiny.py: per-graph sizes,
parity (split vs LeRobot's pipeline, vs the torch graph module, vs the single-graph bundle on the
same observations), `check --device orin-agx` per graph, the Orin roofline ESTIMATE per graph
(the denoise step counted num_steps times), and host latency of `Policy.predict` side by side
(alternating rounds, ONNX Runtime CPU, one thread, the same instruction every frame).

Runs in the Python 3.12 LeRobot venv:

    .venv-lerobot/bin/python benchmarks/lerobot_graph_split.py \
        --out benchmarks/results/lerobot_graph_split
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

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
KINDS = ("smolvla", "pi0", "pi05")


def cli(*args) -> dict:
    cmd = [sys.executable, "-m", "vla_edge.cli.main", *map(str, args), "--json"]
    res = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    try:
        return json.loads(res.stdout)
    except json.JSONDecodeError:
        return {"error": (res.stderr or res.stdout).strip().splitlines()[-3:]}


def export_both(kind: str, work: Path) -> tuple:
    from tests.lerobot import tiny
    from vla_edge.policy.adapters.lerobot.export import default_config, export_lerobot
    from vla_edge.policy.adapters.lerobot.registry import adapter_for
    from vla_edge.policy.adapters.lerobot.split_export import export_lerobot_split

    ctx = tiny.tiny_paligemma() if kind.startswith("pi") else contextlib.nullcontext()
    with ctx:
        ckpt = getattr(tiny, kind)(work / kind / "pretrained_model")
        t = time.perf_counter()
        single = export_lerobot(f"lerobot:{ckpt}", work / f"{kind}-single")
        t_single = time.perf_counter() - t
        t = time.perf_counter()
        cfg = default_config(adapter_for(kind))
        split = export_lerobot_split(f"lerobot:{ckpt}", work / f"{kind}-split", cfg)
        t_split = time.perf_counter() - t
    return single, split, t_single, t_split


def observations(spec, n: int, seed: int):
    rng = np.random.default_rng(seed)
    frames = {
        c.name: rng.integers(0, 256, (n, c.height, c.width, 3), np.uint8) for c in spec.cameras
    }
    return frames, rng.standard_normal((n, spec.state_dim)).astype(np.float32)


def split_vs_single(single, split, n: int = 32) -> float:
    from vla_edge.export.samples import INSTRUCTIONS
    from vla_edge.policy.policy import Policy

    texts = [INSTRUCTIONS[i % len(INSTRUCTIONS)] for i in range(n)]
    with Policy.load(single.path, threads=1) as a, Policy.load(split.path, threads=1) as b:
        frames, state = observations(a.spec, n, seed=21)
        return float(
            np.abs(a.predict_batch(frames, texts, state) - b.predict_batch(frames, texts, state))
            .max()
            .item()
        )


def latency(single, split, rounds: int, per_round: int) -> dict:
    """Median ms of one predict, single vs split, in alternating rounds; the split's stages."""
    from vla_edge.policy.policy import Policy

    times = {"single": [], "split": []}
    stages: dict[str, list] = {}
    with Policy.load(single.path, threads=1) as a, Policy.load(split.path, threads=1) as b:
        frames, state = observations(a.spec, 1, seed=4)
        one = {k: v[0] for k, v in frames.items()}
        for p in (a, b):  # warm up
            for _ in range(3):
                p.predict(one, "pick up the red block", state[0])
        for _ in range(rounds):
            for name, p in (("single", a), ("split", b)):
                for _ in range(per_round):
                    p.predict(one, "pick up the red block", state[0])
                    times[name].append(p.last_latency_ms)
                    if name == "split":
                        for k, v in p.decode_timing.items():
                            stages.setdefault(k, []).append(sum(v) if isinstance(v, list) else v)
        hits = b.cache_hits
    out = {k: round(float(np.median(v)), 3) for k, v in times.items()}
    out["mean"] = {k: round(float(np.mean(v)), 3) for k, v in times.items()}
    # means add up (vision + prefix + denoise + decoder = total); medians of parts would not
    out["split_stages_mean_ms"] = {k: round(float(np.mean(v)), 3) for k, v in stages.items()}
    out["samples_each"] = rounds * per_round
    out["split_token_cache_hits"] = hits
    return out


def check(bundle) -> dict:
    rep = cli("check", bundle.path, "--device", "orin-agx")
    if "error" in rep:
        return rep
    per: dict[str, dict] = {}
    for p in rep.get("problems", []):
        if p["severity"] not in ("error", "warning"):
            continue
        g = per.setdefault(p.get("graph") or "-", {})
        key = f"{p['severity']}:{p['code']}"
        g[key] = g.get(key, 0) + 1
    return {"ok": rep.get("ok"), "by_graph": per}


def orin(bundle) -> dict:
    rep = cli("benchmark", bundle.path, "--device", "orin", "--threads", 1)
    if "error" in rep:
        return rep
    out = {}
    for est in rep.get("estimates", []):
        if est["device"] in out:
            continue
        per = {role: round(g["latency_ms"], 4) for role, g in est["graphs"].items()}
        out[est["device"]] = {"graphs_ms": per, "per_frame_ms": round(est["per_frame_ms"], 4)}
    return out


def one(kind: str, work: Path, rounds: int, per_round: int) -> dict:
    single, split, t_single, t_split = export_both(kind, work)
    steps = split.manifest["flow"]["steps"]
    val = split.manifest["validation"]
    return {
        "policy_type": kind,
        "steps": steps,
        "export_seconds": {"single": round(t_single, 1), "split": round(t_split, 1)},
        "graphs_mb": {
            "single": {g["role"]: round(g["size"] / 2**20, 3) for g in single.graphs},
            "split": {g["role"]: round(g["size"] / 2**20, 3) for g in split.graphs},
        },
        "parity": {
            "split_vs_lerobot_pipeline": val["lerobot_pipeline"]["max_abs_error"]["actions"],
            "lerobot_samples": val["lerobot_pipeline"]["samples"],
            "split_vs_torch_module": val["parity"]["max_abs_error"]["actions"],
            "module_samples": val["parity"]["samples"],
            "single_vs_lerobot_pipeline": single.manifest["validation"]["lerobot_pipeline"][
                "max_abs_error"
            ]["actions"],
            "split_vs_single_bundle": split_vs_single(single, split),
            "split_vs_single_samples": 32,
        },
        "latency_ms": latency(single, split, rounds, per_round),
        "check_orin_agx": {"single": check(single), "split": check(split)},
        "orin_estimate": {"single": orin(single), "split": orin(split)},
        "state_in": split.manifest["flow"]["state_in"],
    }


def markdown(rows: list[dict], command: str) -> str:
    lines = [
        "# LeRobot VLM policies: graph split vs single graph",
        "",
        "Tiny offline checkpoints of tests/lerobot/tiny.py (random weights, small widths): the",
        "figures show that the split is exact and what it costs on a host CPU, not the speed of",
        "the real SmolVLA-450M / pi0-3B. Errors are max |a - a_ref| in the dataset's action",
        "units. Latency: `Policy.predict` medians, ONNX Runtime CPU, 1 thread, the same",
        "instruction every frame, single and split in alternating rounds on a shared 2-core",
        "machine (stage means add up to the split's mean total; vision + prefix is what a",
        "cross-frame prefix cache would save, were one allowed). Orin figures are roofline",
        "ESTIMATES (`vla-edge benchmark --device orin`), the split's per frame = vision +",
        "prefix + steps x denoise_step + action_decoder.",
        "",
        f"Command: `{command}`",
        "",
        "| policy | steps | split vs LeRobot | split vs module | split vs single bundle "
        "| graphs MB single / split | host ms single / split (median) | split stages, mean ms |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['policy_type']} | failed: {r['error']} | | | | | | |")
            continue
        p, lat, mb = r["parity"], r["latency_ms"], r["graphs_mb"]
        sizes = " + ".join(f"{k} {v}" for k, v in mb["split"].items())
        st = ", ".join(f"{k[:-3]} {v}" for k, v in lat["split_stages_mean_ms"].items())
        lines.append(
            f"| {r['policy_type']} | {r['steps']} "
            f"| {p['split_vs_lerobot_pipeline']:.1e} ({p['lerobot_samples']}) "
            f"| {p['split_vs_torch_module']:.1e} ({p['module_samples']}) "
            f"| {p['split_vs_single_bundle']:.1e} ({p['split_vs_single_samples']}) "
            f"| {sum(mb['single'].values()):.3f} / {sizes} "
            f"| {lat['single']} / {lat['split']} (mean {lat['mean']['single']} / "
            f"{lat['mean']['split']}; {lat['samples_each']} each) | {st} |"
        )
    lines += ["", "## `check --device orin-agx` (errors and warnings per graph)", ""]
    for r in rows:
        if "error" in r:
            continue
        for layout in ("single", "split"):
            c = r["check_orin_agx"][layout]
            lines.append(f"- {r['policy_type']} {layout}: ok={c.get('ok')} {c.get('by_graph', c)}")
    lines += ["", "## Orin estimate per frame (ms)", ""]
    for r in rows:
        if "error" in r:
            continue
        for layout in ("single", "split"):
            e = r["orin_estimate"][layout]
            if "error" in e:
                lines.append(f"- {r['policy_type']} {layout}: failed {e['error']}")
                continue
            per = "; ".join(f"{d} {v['per_frame_ms']} ({v['graphs_ms']})" for d, v in e.items())
            lines.append(f"- {r['policy_type']} {layout}: {per}")
    return "\n".join(lines + FINDINGS) + "\n"


FINDINGS = [
    "",
    "## What the split gives, and what it cannot",
    "",
    "- **No prefix cache across frames, for any of the three.** In LeRobot's attention mask",
    "  (`make_att_2d_masks`) the image tokens and the language tokens have att_mask 0: one",
    "  bidirectional block, so from the second VLM layer on every language key and value",
    "  depends on the frame (tests/lerobot/test_graph_split.py shows it on the ONNX prefix",
    "  graph: layer-0 language keys equal across two frames, layer-1 keys differ). SmolVLA's",
    "  state token (att_mask 1) attends to both; pi0 puts the state in the suffix; pi0.5 writes",
    "  it into the prompt. So the prefix runs once per frame and its cache serves that frame's",
    "  denoise steps (what LeRobot's `sample_actions` and the single graph already do); while",
    "  the instruction is unchanged only its tokenization is kept (`split_token_cache_hits`).",
    "  Caching the language keys across frames would need a checkpoint trained with a causal",
    "  text-before-image layout; an exact export cannot change the mask.",
    "- **Same answers; no speed-up.** The split bundle matches LeRobot's pipeline, the torch",
    "  module and the single-graph bundle to <1e-5 (float32 round-off; the float64 time",
    "  embedding computed in float32 adds a few 1e-6). On the host the split is as fast as the",
    "  single graph within this shared machine's noise (medians of an earlier run of the same",
    "  script, 13:41 UTC, single / split ms: smolvla 7.02 / 7.04, pi0 7.31 / 7.98, pi0.5",
    "  2.36 / 2.38; the table's run differs by up to 20% either way). The roofline estimate",
    "  puts the split 15-30% above the single graph on Orin for these tiny models (every graph",
    "  call pays its launches and every denoise step reads the prefix cache from DRAM); for",
    "  the real checkpoints it is to be measured on the device.",
    "- **What it is for:** every graph passes `check --device orin-agx` (the single graphs of",
    "  this run do not: float64 time embedding, int64 CumSum, bool Equal/NonZero, which",
    "  vla_edge/export/trt_legalize.py rewrites; since this run every dynamo export, the single",
    "  graph too, goes through it: the run's single SmolVLA graph rewritten offline passes",
    "  check and matches the original within 1.4e-6); the denoise step is",
    "  one graph called num_steps times instead of num_steps unrolled copies (smaller files:",
    "  the sizes above), so a TensorRT engine per piece can be built, quantized and timed on its",
    "  own (vision in INT8, the expert in FP16, say), and cameras are encoded one graph each.",
    "- **Python 3.10.** onnxruntime 1.23.2 (what pip installs for Python 3.10) has no float64",
    "  Cos: a single-graph SmolVLA bundle exported as in this run did not load there",
    "  (`Could not find an implementation for Cos(7)`); the split bundle (rewritten) predicts",
    "  there without torch.",
]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/lerobot_graph_split")
    ap.add_argument("--kinds", default=",".join(KINDS))
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--per-round", type=int, default=10)
    ap.add_argument("--render-from", type=Path, help="rewrite the .md from this .json only")
    args = ap.parse_args()
    if args.render_from:
        rows = json.loads(args.render_from.read_text())
        command = "python benchmarks/lerobot_graph_split.py --out " + str(args.out)
        args.out.with_suffix(".md").write_text(markdown(rows, command))
        return
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for kind in args.kinds.split(","):
            try:
                rows.append(one(kind, Path(tmp), args.rounds, args.per_round))
            except Exception as exc:  # record a failure, go on with the other types
                rows.append({"policy_type": kind, "error": f"{type(exc).__name__}: {exc}"[:300]})
            print(json.dumps(rows[-1])[:600], flush=True)
    command = "python benchmarks/lerobot_graph_split.py " + " ".join(sys.argv[1:])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(rows, indent=2) + "\n")
    args.out.with_suffix(".md").write_text(markdown(rows, command.strip()))


if __name__ == "__main__":
    main()
