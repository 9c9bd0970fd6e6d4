"""The fused camera-preprocessing kernel against the equivalent torch op chain, side by side on
one CUDA GPU, and the report of `benchmarks/gpu_check.sh`.

    python benchmarks/gpu_check.py --out-dir benchmarks/results [--step NAME=STATUS ...]
    python benchmarks/gpu_check.py --dry-run          # no GPU: exercises the path on the CPU

Each case (RGB 1280x720, NV12 1280x720, RGB 640x480 -> 224x224 FP16 NCHW, ImageNet
normalization) runs both variants in alternating rounds (vla_edge.bench.latency.alternate, the
order rotating each round); a sample is `--inner` back-to-back calls timed with CUDA events,
divided by `--inner`. The fused output is compared bit for bit with the NumPy reference and
with the torch chain (max abs difference). Writes gpu_check_<gpu>.md and .json.

`--dry-run` (a machine without a GPU): the fused kernel's host build (the same math compiled
for the CPU) against the torch chain on the CPU, timed with the wall clock, written as
gpu_check_dry-run-cpu.md: it checks the script, not the GPU; its ratios say nothing about one.
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
CASES = [("rgb", 720, 1280, 224), ("nv12", 720, 1280, 224), ("rgb", 480, 640, 224)]


def torch_chain(torch, frame, fmt: str, h: int, w: int, out: int, device: str):
    """uint8 frame -> float -> (YUV -> RGB) -> bilinear resize -> /255 -> normalize -> half."""
    F = torch.nn.functional
    mean = torch.tensor(MEAN, device=device).view(1, 3, 1, 1)
    std = torch.tensor(STD, device=device).view(1, 3, 1, 1)
    if fmt == "rgb":
        x = frame.view(1, h, w, 3).permute(0, 3, 1, 2).float()
    else:  # nv12, BT.601 limited range
        y = frame[: h * w].view(1, 1, h, w).float()
        uv = frame[h * w :].view(h // 2, w // 2, 2).permute(2, 0, 1).float()
        uv = F.interpolate(uv[None], scale_factor=2, mode="nearest") - 128
        yy = 1.164383 * (y - 16)
        r = yy + 1.596027 * uv[:, 1:2]
        g = yy - 0.391762 * uv[:, 0:1] - 0.812968 * uv[:, 1:2]
        b = yy + 2.017232 * uv[:, 0:1]
        x = torch.cat([r, g, b], 1).clamp(0, 255)
    x = F.interpolate(x, size=(out, out), mode="bilinear", align_corners=False, antialias=False)
    return ((x / 255 - mean) / std).half()


def _sampler(torch, fn, inner: int, gpu: bool):
    """run(n) -> n samples, each the mean ms of `inner` back-to-back calls."""

    def run(n: int) -> list[float]:
        out = []
        for _ in range(n):
            if gpu:
                start = torch.cuda.Event(enable_timing=True)
                end = torch.cuda.Event(enable_timing=True)
                start.record()
                for _ in range(inner):
                    fn()
                end.record()
                torch.cuda.synchronize()
                out.append(start.elapsed_time(end) / inner)
            else:
                t = time.perf_counter()
                for _ in range(inner):
                    fn()
                out.append((time.perf_counter() - t) * 1e3 / inner)
        return out

    return run


def case(torch, fmt: str, h: int, w: int, out: int, args) -> dict:
    from vla_edge.bench.latency import alternate, summary
    from vla_edge.kernels.preprocess import (
        PreprocessConfig,
        preprocess_cuda,
        preprocess_host,
        preprocess_reference,
    )

    gpu = not args.dry_run
    device = "cuda" if gpu else "cpu"
    cfg = PreprocessConfig(w, h, out, out, format=fmt, layout="nchw-f16", mean=MEAN, std=STD)
    host = np.random.default_rng(0).integers(0, 256, cfg.frame_bytes, dtype=np.uint8)
    frame = torch.from_numpy(host).to(device)
    if gpu:
        dst = torch.empty((1, 3, out, out), dtype=torch.float16, device=device)
        stream = torch.cuda.current_stream().cuda_stream

        def fused():
            preprocess_cuda(frame.data_ptr(), dst.data_ptr(), 1, cfg, stream)

        fused()
        torch.cuda.synchronize()
        result = dst.cpu().numpy()
    else:

        def fused():
            return preprocess_host(host, cfg)

        result = fused()
    exact = np.array_equal(result.view(np.uint16), preprocess_reference(host, cfg).view(np.uint16))
    chain = torch_chain(torch, frame, fmt, h, w, out, device).float().cpu().numpy()
    diff = float(np.abs(result.astype(np.float32) - chain).max())

    def chained():
        return torch_chain(torch, frame, fmt, h, w, out, device)

    for _ in range(args.warmup):
        fused(), chained()
    if gpu:
        torch.cuda.synchronize()
    runs = {"fused": _sampler(torch, fused, args.inner, gpu)}
    runs["torch"] = _sampler(torch, chained, args.inner, gpu)
    times = alternate(runs, args.rounds * args.per_round, args.rounds)
    stats = {k: summary(v) for k, v in times.items()}
    return {
        "format": fmt,
        "frame": f"{w}x{h}",
        "out": f"{out}x{out} fp16 nchw",
        "fused_ms_p50": stats["fused"]["p50"],
        "torch_ms_p50": stats["torch"]["p50"],
        "torch_over_fused": stats["torch"]["p50"] / stats["fused"]["p50"],
        "fused_ms_p90": stats["fused"]["p90"],
        "torch_ms_p90": stats["torch"]["p90"],
        "samples": len(times["fused"]),
        "calls_per_sample": args.inner,
        "fused_bit_exact_vs_numpy": bool(exact),
        "max_abs_fused_vs_torch": diff,
    }


def environment(torch, dry_run: bool) -> dict:
    env = {
        "torch": torch.__version__,
        "python": platform.python_version(),
        "host": platform.node(),
        "cpu": platform.processor() or platform.machine(),
    }
    if dry_run:
        env["gpu"] = "none (dry run on the CPU)"
    else:
        env["gpu"] = torch.cuda.get_device_name()
        env["compute_capability"] = "{}.{}".format(*torch.cuda.get_device_capability())
        env["cuda_runtime"] = torch.version.cuda
    return env


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "gpu"


def report(result: dict) -> str:
    env, dry = result["environment"], result["dry_run"]
    title = "DRY RUN on the CPU (no GPU)" if dry else env["gpu"]
    lines = [f"# GPU check: {title}", ""]
    if dry:
        lines += [
            "**Not a GPU result.** No CUDA GPU was at hand: the fused kernel's host build (the "
            "same math on the CPU) was timed against the torch op chain on the CPU, only to "
            "exercise this script. These ratios say nothing about a GPU.",
            "",
        ]
    lines += [f"- {k}: {v}" for k, v in env.items()]
    lines += [f"- command: `{result['command']}`", f"- when: {result['when']}", ""]
    if result["steps"]:
        lines += ["## Steps", "", "| step | status |", "| --- | --- |"]
        lines += [f"| {k} | {v} |" for k, v in result["steps"].items()]
        lines.append("")
    lines += [
        "## Fused preprocessing vs the torch op chain (side by side, alternating rounds)",
        "",
        "| input | fused p50 ms | torch p50 ms | torch / fused | samples x calls | "
        "bit-exact vs NumPy | max abs vs torch |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in result["cases"]:
        lines.append(
            f"| {r['format']} {r['frame']} -> {r['out']} | {r['fused_ms_p50']:.4f} | "
            f"{r['torch_ms_p50']:.4f} | {r['torch_over_fused']:.2f}x | {r['samples']} x "
            f"{r['calls_per_sample']} | {r['fused_bit_exact_vs_numpy']} | "
            f"{r['max_abs_fused_vs_torch']:.3g} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out-dir", type=Path, default=Path("benchmarks/results"))
    ap.add_argument("--dry-run", action="store_true", help="No GPU: run the path on the CPU.")
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--per-round", type=int, default=5, help="Samples per variant per round.")
    ap.add_argument("--inner", type=int, default=50, help="Calls per sample.")
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--step", action="append", default=[], help="NAME=STATUS for the report.")
    args = ap.parse_args(argv)
    import torch

    if not args.dry_run and not torch.cuda.is_available():
        print(
            "gpu_check: torch sees no CUDA GPU; run with --dry-run to check the script",
            file=sys.stderr,
        )
        return 2
    if args.dry_run:
        args.inner, args.rounds, args.per_round, args.warmup = min(args.inner, 3), 4, 2, 1
    cases = [case(torch, *c, args) for c in CASES]
    env = environment(torch, args.dry_run)
    result = {
        "dry_run": args.dry_run,
        "environment": env,
        "command": ("benchmarks/gpu_check.sh" if args.step else "python benchmarks/gpu_check.py")
        + (" --dry-run" if args.dry_run else ""),
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "steps": dict(s.partition("=")[::2] for s in args.step),
        "cases": cases,
    }
    name = "dry-run-cpu" if args.dry_run else slug(env["gpu"])
    args.out_dir.mkdir(parents=True, exist_ok=True)
    md = args.out_dir / f"gpu_check_{name}.md"
    md.write_text(report(result))
    (args.out_dir / f"gpu_check_{name}.json").write_text(json.dumps(result, indent=2) + "\n")
    print(report(result))
    print(f"gpu_check: wrote {md}")
    bad = [c for c in cases if not c["fused_bit_exact_vs_numpy"]]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
