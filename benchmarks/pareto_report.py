"""Pareto report: task success per millisecond for a teacher and its compressed students.

For each variant (a reference checkpoint: the teacher, pruned and distilled students), and its
INT8 bundle when `vla-edge quantize` is available:
- parameters (all / per-frame graph), graph size in MB;
- per-frame latency on this machine with ONNX Runtime, batch 1 (instruction cached): every
  variant in its own subprocess, rounds alternating over the variants, all in one run;
- estimated Orin AGX latency (vla_edge.bench roofline, labelled ESTIMATE): FP16 for FP32
  bundles, INT8 for INT8 bundles;
- closed-loop success on the suite when vla_edge.sim is installed; always, the agreement with
  the teacher on held-out demonstration frames (mean |action - teacher action| as % of range).
- with `--ablate vision-black` (or any `vla-edge eval --ablate` variant), the same seeds again
  with that ablation for every non-INT8 student (and the teacher with `--ablate-teacher`): a
  student that shrinks or drops the vision encoder shows whether it still uses its camera.
- `--success-from NAME=EVAL_JSON` reads a row's closed-loop success (and its ablations) from a
  recorded `vla-edge eval -o` report instead of running it again; the report must be on the same
  suite, episodes per task and seeds, and hold every `--ablate` variant the row needs.
- `--quote NAME=PARETO_JSON` copies a row from an earlier run's JSON (for a checkpoint that is no
  longer at hand), labelled as quoted, with its speed-up against that run's own teacher.
Writes <out>.json, <out>.md and <out>.png (success, or teacher agreement, against latency).

    python benchmarks/pareto_report.py --teacher CKPT --data DEMOS \
        --variant pruned-50=CKPT2 --variant distilled-tiny=CKPT3 [--int8] [--suite mt10] \
        --out benchmarks/results/pareto
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

TIMER = r"""
import json, sys, time, numpy as np, onnxruntime as ort
from vla_edge.policy.policy import Policy
path, iters, warmup, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
p = Policy.load(path, backend="onnxrt", threads=threads)
rng = np.random.default_rng(0)
frames = {c.name: rng.integers(0, 256, (c.height, c.width, 3), np.uint8) for c in p.spec.cameras}
state = np.zeros(p.spec.state_dim, np.float32) if p.spec.state_dim else None
graphs = json.load(open(path + "/manifest.json"))["graphs"]
graph = [g for g in graphs if g["role"] != "instruction_encoder"][0]
so = ort.SessionOptions(); so.intra_op_num_threads = threads; so.inter_op_num_threads = 1
sess = ort.InferenceSession(path + "/" + graph["file"], so, providers=["CPUExecutionProvider"])
types = {"tensor(uint8)": np.uint8, "tensor(float)": np.float32, "tensor(int64)": np.int64}
shape = lambda i: [1 if isinstance(d, str) else d for d in i.shape]
feeds = {i.name: np.ones(shape(i), types[i.type]) for i in sess.get_inputs()}
for _ in range(warmup + 1):
    p.predict(frames, "reach the goal", state); sess.run(None, feeds)
times, graph_times, cpu_times = [], [], []
for _ in range(iters):
    c, t = time.thread_time(), time.perf_counter(); p.predict(frames, "reach the goal", state)
    times.append((time.perf_counter() - t) * 1e3); cpu_times.append((time.thread_time() - c) * 1e3)
    t = time.perf_counter(); sess.run(None, feeds)
    graph_times.append((time.perf_counter() - t) * 1e3)
print(json.dumps([times, graph_times, cpu_times]))
"""


def make_bundles(
    variants: dict[str, Path], work: Path, data: Path, int8: bool, precision: str = "int8"
) -> dict:
    from vla_edge.compress.prune import export_compressed

    bundles, failures = {}, {}
    for name, ckpt in variants.items():
        bundles[name] = export_compressed(ckpt, work / name, force=True).path
        print(f"exported {name}", flush=True)
        if int8 and _has_quantize():
            try:
                bundles[f"{name}-int8"] = _int8(
                    bundles[name], work / f"{name}-int8", data, precision
                )
                print(f"quantized {name}", flush=True)
            except Exception as exc:  # recorded in the report, the other rows still run
                failures[f"{name}-int8"] = f"{type(exc).__name__}: {exc}"
                print(f"INT8 of {name} failed: {exc}", flush=True)
    return bundles, failures


def _int8(bundle: Path, out: Path, data: Path, precision: str = "int8") -> Path:
    from vla_edge.compress.quantize.api import quantize
    from vla_edge.compress.quantize.config import QuantizeConfig

    cfg = QuantizeConfig(precision=precision, calib=str(data), force=True)
    return quantize(bundle, out, cfg).path


def _has_quantize() -> bool:
    try:
        import vla_edge.compress.quantize.api  # noqa: F401
    except ImportError:
        return False
    return True


def time_bundle(path: Path, iters: int, threads: int) -> tuple[list[float], ...]:
    """(Policy.predict ms, bare session.run of the per-frame graph ms, Policy.predict CPU ms of
    the calling thread), one fresh process. The CPU time leaves out the time the process waits
    for a core, so it holds up on a loaded machine; with 1 ORT thread the kernels run on the
    calling thread (with more threads it leaves out the worker threads)."""
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    cmd = [sys.executable, "-c", TIMER, str(path), str(iters), "10", str(threads)]
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"timing {path} failed:\n{out.stderr[-2000:]}")
    predict, graph, cpu = json.loads(out.stdout.strip().splitlines()[-1])
    return predict, graph, cpu


def latencies(bundles: dict, rounds: int, iters: int, threads: int) -> dict:
    times: dict[str, list[float]] = {n: [] for n in bundles}
    graph: dict[str, list[float]] = {n: [] for n in bundles}
    cpu: dict[str, list[float]] = {n: [] for n in bundles}
    for r in range(rounds):
        order = list(bundles) if r % 2 == 0 else list(reversed(bundles))
        for name in order:
            t, g, c = time_bundle(bundles[name], iters, threads)
            times[name] += t
            graph[name] += g
            cpu[name] += c
    return {
        n: {
            "p50": float(np.median(t)),
            "p90": float(np.percentile(t, 90)),
            "graph_p50": float(np.median(graph[n])),
            "cpu_p50": float(np.median(cpu[n])),
            "n": len(t),
        }
        for n, t in times.items()
    }


def orin_estimate(path: Path) -> float | None:
    try:
        from vla_edge.bench.devices import get_device
        from vla_edge.bench.estimate import JETSON_EFFICIENCY
        from vla_edge.bench.estimates import CostCache, estimate_bundle
    except ImportError:
        return None
    from vla_edge.bundle import Bundle

    b = Bundle.load(path)
    precision = "int8" if b.precision == "int8" else "fp16"
    est = estimate_bundle(b, precision, get_device("orin-agx"), JETSON_EFFICIENCY, 1, CostCache())
    return float(est["per_frame_ms"])


def agreement(bundles: dict, teacher: str, data: Path, frames: int) -> dict:
    """Mean |action - teacher action| over held-out frames, in % of each dimension's range."""
    from vla_edge.compress.distill import open_demos
    from vla_edge.policy.policy import Policy

    demos = open_demos(data)
    idx = np.linspace(0, len(demos) - 1, min(frames, len(demos))).astype(int)
    samples = [demos[int(i)] for i in idx]
    outs = {}
    for name, path in bundles.items():
        with Policy.load(path, backend="onnxrt") as p:
            outs[name] = np.stack([_predict(p, s) for s in samples])
            span = np.asarray(p.spec.action.high) - np.asarray(p.spec.action.low)
    ref = outs[teacher]
    return {n: float(np.mean(np.abs(o - ref) / span) * 100) for n, o in outs.items()}


def _predict(policy, sample) -> np.ndarray:
    return policy.predict(sample["frames"], sample["instruction"], sample["state"])


def success(
    path: Path,
    suite: str | None,
    episodes: int,
    threads: int,
    ablate: list[str] | None = None,
    save: Path | None = None,
) -> dict | None:
    """Closed-loop success on the suite (ONNX Runtime, `threads` threads), with per-task rates,
    and each `ablate` variant's on the same seeds."""
    if suite is None:
        return None
    from vla_edge.policy.policy import Policy
    from vla_edge.sim.evaluate import evaluate

    with Policy.load(path, backend="onnxrt", threads=threads) as policy:
        result = evaluate(
            policy, suite=suite, episodes=episodes, ablate=list(ablate or []), progress=False
        )
    tasks = {t: v["successes"] / v["episodes"] for t, v in result["tasks"].items()}
    out = {"rate": float(result["success_rate"]), "episodes": result["episodes"], "tasks": tasks}
    if ablate:
        out["ablations"] = {
            a["variant"]: {
                "rate": float(a["success_rate"]),
                "episodes": a["episodes"],
                "tasks": {t: v["successes"] / v["episodes"] for t, v in a["tasks"].items()},
            }
            for a in result["ablations"].values()
        }
    if save is not None:  # the full evaluation report, as `vla-edge eval -o` writes it
        save.write_text(json.dumps(result, indent=2) + "\n")
    print(f"  {path}: {out['rate']:.0%} of {out['episodes']}", flush=True)
    return out


def recorded_success(path: Path, args, ablate: list[str]) -> dict:
    """A row's success from a recorded `vla-edge eval -o` report, in `success()`'s form; refuses a
    report on another suite, another number of episodes or other seeds, or one that lacks an
    ablation this row needs."""
    try:
        result = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise SystemExit(f"--success-from {path}: cannot read an eval report ({exc})") from None
    from vla_edge.sim.suites import EVAL_SEED_BASE

    seeds = f"eval seeds from {EVAL_SEED_BASE} (demos use < {EVAL_SEED_BASE})"  # as evaluate()
    found = (result.get("suite"), result.get("episodes_per_task"), result.get("seeds"))
    want = (args.suite, args.episodes, seeds)
    if found != want:
        raise SystemExit(
            f"--success-from {path}: expected an eval report with (suite, episodes per task, "
            f"seeds) = {want}, found {found}; run `vla-edge eval BUNDLE --suite {args.suite} "
            f"--episodes {args.episodes} -o FILE` and pass that file"
        )
    recorded = {a["variant"]: a for a in (result.get("ablations") or {}).values()}
    missing = [a for a in ablate if a not in recorded]
    if missing:
        raise SystemExit(
            f"--success-from {path}: the report lacks the ablation(s) {missing} this row needs "
            f"(it has {sorted(recorded)}); run the eval with --ablate {' --ablate '.join(missing)}"
        )

    def rates(r: dict) -> dict:
        return {t: v["successes"] / v["episodes"] for t, v in r["tasks"].items()}

    out = {
        "rate": float(result["success_rate"]),
        "episodes": result["episodes"],
        "tasks": rates(result),
        "from": str(path),
    }
    if ablate:
        out["ablations"] = {
            a: {
                "rate": float(recorded[a]["success_rate"]),
                "episodes": recorded[a]["episodes"],
                "tasks": rates(recorded[a]),
            }
            for a in ablate
        }
    return out


def quoted_row(name: str, path: Path) -> dict:
    """Row NAME of an earlier run's JSON, marked quoted, with its speed-up against that run's
    teacher (its latencies were measured under that run's load, not this one's)."""
    try:
        earlier = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise SystemExit(f"--quote {name}={path}: cannot read a pareto report ({exc})") from None
    rows = {r["name"]: r for r in earlier.get("rows", [])}
    if name not in rows or "teacher" not in rows:
        raise SystemExit(
            f"--quote {name}={path}: expected rows {name!r} and 'teacher' there, "
            f"found {sorted(rows)}"
        )
    row = dict(rows[name])
    row["quoted"] = {
        "from": str(path),
        "speedup": rows["teacher"]["p50_ms"] / row["p50_ms"],
        "teacher_p50_ms": rows["teacher"]["p50_ms"],
    }
    return row


def sizes(variants: dict[str, Path], bundles: dict) -> dict:
    from vla_edge.bundle import Bundle
    from vla_edge.compress.distill.student import count_parameters, load_reference

    out = {}
    for name, path in bundles.items():
        base = variants.get(name) or variants[name.removesuffix("-int8")]
        model, _ = load_reference(base)
        b = Bundle.load(path)
        out[name] = {
            "parameters": count_parameters(model),
            "per_frame_parameters": count_parameters(model, per_frame=True),
            "graph_mb": b.size_bytes() / 1e6,
            "precision": b.precision,
            "sparsity": (b.manifest.get("sparsity") or {}).get("pattern"),
        }
    return out


def markdown(rows: list[dict], args, teacher: str, failures: dict) -> str:
    head = [
        "# Pareto report: task success per millisecond",
        "",
        f"Command: `python benchmarks/pareto_report.py {' '.join(sys.argv[1:])}`",
        "",
        f"Machine: {os.cpu_count()} CPU cores (shared with other jobs), no GPU, ONNX Runtime "
        f"{args.threads} thread(s), batch 1, per-frame graph (instruction cached); "
        f"{args.rounds} alternating rounds x {args.iters} iterations per variant, each in its "
        f"own process; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}. `predict` is "
        "`Policy.predict` end to end; `graph` is a bare `session.run` of the per-frame graph "
        "in the same process (the rest is per-call overhead); `predict CPU` is the calling "
        "thread's CPU time per `Policy.predict` (it leaves out the time spent waiting for a "
        "core, so it holds up better than wall time on a loaded machine).",
        *(
            [f"`-int8` rows: `vla-edge quantize --precision {args.int8_precision}`."]
            if args.int8
            else []
        ),
        "Orin: ESTIMATE from the roofline model (vla_edge.bench), Orin AGX, FP16 (INT8 for INT8 "
        "bundles), not measured on a device.",
        f"Success: closed loop on {args.suite}, {args.episodes} episodes per task, the same "
        "evaluation seeds for every row, ONNX Runtime"
        + (f" ({args.eval_threads} thread(s))" if args.eval_threads else "")
        + "."
        + (
            f" Ablations ({', '.join(args.ablate)}): the same seeds again, every non-INT8 "
            + ("row." if args.ablate_teacher else "student row (`-`: not run).")
            if args.ablate
            else ""
        ),
        "",
        "| variant | params | per-frame params | graph MB | precision | predict p50 ms | "
        f"graph p50 ms | speed-up vs {teacher} | predict CPU p50 ms | CPU speed-up | "
        f"Orin est. ms | success | success vs {teacher} "
        "| action gap to teacher (% range) |" + "".join(f" {a} |" for a in args.ablate),
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|" + "---|" * len(args.ablate),
    ]
    ref = next(r for r in rows if r["name"] == teacher)
    for r in rows:
        head.append(_row(r, ref) + _ablation_cells(r, args.ablate))
    reused = [r for r in rows if (r["success"] or {}).get("from")]
    if reused:
        head.append("")
        head.append(
            "Success read from recorded `vla-edge eval` reports (same suite, episodes and seeds, "
            "checked): " + "; ".join(f"{r['name']}: `{r['success']['from']}`" for r in reused) + "."
        )
    quoted = [r for r in rows if r.get("quoted")]
    if quoted:
        head.append("")
        head.append(
            "Rows marked *(quoted)* were not re-measured in this run: copied from "
            + "; ".join(f"{r['name']}: `{r['quoted']['from']}`" for r in quoted)
            + ". Their latencies were measured under that run's load, and their speed-up is "
            "against that run's teacher."
        )
    for name, why in failures.items():
        head.append(f"\n{name}: not made ({why})")
    return "\n".join(head) + "\n"


def _row(r: dict, ref: dict) -> str:
    succ, delta = "n/a", "n/a"
    if r["success"] is not None:
        succ = f"{r['success']['rate']:.1%}"
        delta = f"{(r['success']['rate'] - ref['success']['rate']) * 100:+.0f} pts"
    orin = "n/a" if r["orin_ms"] is None else f"{r['orin_ms']:.3f}"
    prec = r["precision"] + (f" {r['sparsity']}" if r["sparsity"] else "")
    name, speedup = r["name"], _speedup(r, ref)
    cpu = "n/a | n/a"  # rows quoted from runs made before the CPU time was recorded
    if r.get("cpu_p50_ms") and ref.get("cpu_p50_ms") and not r.get("quoted"):
        cpu = f"{r['cpu_p50_ms']:.3f} | {ref['cpu_p50_ms'] / r['cpu_p50_ms']:.2f}x"
    if r.get("quoted"):
        name += " *(quoted)*"
    return (
        f"| {name} | {r['parameters']:,} | {r['per_frame_parameters']:,} | "
        f"{r['graph_mb']:.2f} | {prec} | {r['p50_ms']:.3f} | {r['graph_p50_ms']:.3f} | "
        f"{speedup:.2f}x | {cpu} | {orin} | {succ} | {delta} | {r['gap_pct']:.2f} |"
    )


def _speedup(r: dict, ref: dict) -> float:
    """Speed-up against the teacher timed in the same run as the row."""
    if r.get("quoted"):
        return r["quoted"]["speedup"]
    return ref["p50_ms"] / r["p50_ms"]


def _ablation_cells(r: dict, ablate: list[str]) -> str:
    found = (r["success"] or {}).get("ablations", {})
    cells = []
    for a in ablate:
        v = found.get(a)
        cells.append(" - |" if v is None else f" {v['rate']:.1%} of {v['episodes']} |")
    return "".join(cells)


def plot(rows: list[dict], out: Path) -> Path | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    have_success = all(r["success"] is not None for r in rows)
    fig, ax = plt.subplots(figsize=(7.5, 4.6))
    colors: dict[str, str] = {}
    teacher = next((r for r in rows if r["name"] == "teacher"), None)
    for r in rows:
        y = r["success"]["rate"] * 100 if have_success else r["gap_pct"]
        int8 = r["name"].endswith("-int8")
        base = r["name"].removesuffix("-int8")
        color = colors.setdefault(base, f"C{len(colors) % 10}")
        kw = {"facecolors": "none", "marker": "s"} if int8 else {"color": color}
        x, label = r["p50_ms"], r["name"]
        if r.get("quoted") and teacher is not None:  # placed by its speed-up in its own run
            x, label = teacher["p50_ms"] / r["quoted"]["speedup"], f"{label} (quoted)"
            kw = {"facecolors": "none", "marker": "D"}
        ax.scatter(x, y, s=40, edgecolors=color, **kw)
        ax.annotate(
            label,
            (x, y),
            fontsize=8,
            xytext=(5, -10 if int8 else 4),
            textcoords="offset points",
        )
    if teacher is not None:
        for k in (3, 4):
            ax.axvline(teacher["p50_ms"] / k, color="0.5", ls="--", lw=0.8)
            ax.annotate(
                f"{k}x faster than the teacher",
                (teacher["p50_ms"] / k, 0),
                xycoords=("data", "axes fraction"),
                xytext=(3, 4 + 10 * (k - 3)),
                textcoords="offset points",
                fontsize=7,
                color="0.4",
            )
    ax.set_xscale("log")
    from matplotlib.ticker import FormatStrFormatter

    ax.xaxis.set_major_formatter(FormatStrFormatter("%.2g"))
    ax.xaxis.set_minor_formatter(FormatStrFormatter("%.2g"))
    ax.tick_params(axis="x", which="minor", labelsize=7)
    ax.set_xlabel("Policy.predict latency, ONNX Runtime on this CPU (ms, log)")
    ax.set_ylabel(
        "closed-loop success (%)"
        if have_success
        else "action gap to teacher (% of range, lower is better)"
    )
    ax.set_title(
        "task success per millisecond"
        if have_success
        else "teacher agreement per millisecond (no simulator run)"
    )
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out.with_suffix(".png"), dpi=120)
    return out.with_suffix(".png")


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--teacher", required=True, type=Path)
    ap.add_argument("--data", required=True, type=Path)
    ap.add_argument("--variant", action="append", default=[], help="name=checkpoint")
    ap.add_argument("--int8", action="store_true", help="also quantize every variant to INT8")
    ap.add_argument(
        "--int8-precision",
        default="int8",
        help="vla-edge quantize precision of the -int8 rows (int8, int8-dynamic, mixed)",
    )
    ap.add_argument(
        "--ablate",
        action="append",
        default=[],
        help="eval --ablate variant run on every student row too (e.g. vision-black)",
    )
    ap.add_argument("--ablate-teacher", action="store_true", help="--ablate the teacher too")
    ap.add_argument(
        "--eval-threads",
        type=int,
        default=None,
        help="ORT threads in the closed-loop evaluations (default: --threads)",
    )
    ap.add_argument(
        "--success-from",
        action="append",
        default=[],
        help="NAME=EVAL_JSON: that row's success from a recorded `vla-edge eval -o` report",
    )
    ap.add_argument(
        "--quote",
        action="append",
        default=[],
        help="NAME=PARETO_JSON: copy row NAME from an earlier run's JSON (labelled quoted)",
    )
    ap.add_argument("--suite", default=None)
    ap.add_argument("--episodes", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--iters", type=int, default=50)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--agreement-frames", type=int, default=200)
    ap.add_argument("--out", default="benchmarks/results/pareto")
    ap.add_argument("--keep", type=Path, default=None, help="keep the bundles in this folder")
    ap.add_argument("--note", default="", help="text appended under the table")
    return ap.parse_args()


def _ablations(name: str, args) -> list[str]:
    """The ablations a row runs: none for INT8 rows (the same model as their parent), none for
    the teacher unless --ablate-teacher (its own are recorded with it)."""
    if name.endswith("-int8") or (name == "teacher" and not args.ablate_teacher):
        return []
    return args.ablate


def measure(args, variants: dict, work: Path) -> tuple[list[dict], dict]:
    bundles, failures = make_bundles(variants, work, args.data, args.int8, args.int8_precision)
    size = sizes(variants, bundles)
    gap = agreement(bundles, "teacher", args.data, args.agreement_frames)
    lat = latencies(bundles, args.rounds, args.iters, args.threads)
    recorded = _pairs(args.success_from, "--success-from")
    rows = []
    for n in bundles:
        if n in recorded:
            succ = recorded_success(recorded[n], args, _ablations(n, args))
        else:
            succ = success(
                bundles[n],
                args.suite,
                args.episodes,
                args.eval_threads or args.threads,
                _ablations(n, args),
                work / f"{n}-eval.json",
            )
        rows.append(
            {
                "name": n,
                **size[n],
                "p50_ms": lat[n]["p50"],
                "p90_ms": lat[n]["p90"],
                "graph_p50_ms": lat[n]["graph_p50"],
                "cpu_p50_ms": lat[n]["cpu_p50"],
                "orin_ms": orin_estimate(bundles[n]),
                "gap_pct": gap[n],
                "success": succ,
            }
        )
        print(f"measured {n}", flush=True)
    rows += [quoted_row(n, p) for n, p in _pairs(args.quote, "--quote").items()]
    return rows, failures


def _pairs(items: list[str], flag: str) -> dict[str, Path]:
    out = {}
    for item in items:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise SystemExit(f"{flag}: expected NAME=PATH, found {item!r}")
        out[name] = Path(path)
    return out


def main() -> None:
    args = parse_args()
    variants = {"teacher": args.teacher}
    variants.update(dict(v.split("=", 1) for v in args.variant))
    variants = {k: Path(v) for k, v in variants.items()}
    unknown = sorted(set(_pairs(args.success_from, "--success-from")) - set(variants))
    if unknown:
        raise SystemExit(f"--success-from names {unknown}: not a variant ({sorted(variants)})")
    for name, path in _pairs(args.quote, "--quote").items():
        quoted_row(name, path)  # a bad --quote fails before the run, not after it
    if args.keep is not None:
        args.keep.mkdir(parents=True, exist_ok=True)
        rows, failures = measure(args, variants, args.keep)
    else:
        with tempfile.TemporaryDirectory(prefix="pareto-") as tmp:
            rows, failures = measure(args, variants, Path(tmp))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(
        json.dumps(
            {"rows": rows, "int8_failures": failures, "args": vars(args)}, indent=2, default=str
        )
    )
    md = markdown(rows, args, "teacher", failures) + (f"\n{args.note}\n" if args.note else "")
    out.with_suffix(".md").write_text(md)
    plot(rows, out)
    print(md)


if __name__ == "__main__":
    main()
