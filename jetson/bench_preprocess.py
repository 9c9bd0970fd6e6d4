"""Fused camera preprocessing vs the equivalent torch op chain, side by side in one process on
one GPU (Orin or any CUDA GPU). Prints and writes the median times and their ratio.

    python jetson/bench_preprocess.py --out benchmarks/results/preprocess-orin.json

torch chain (RGB): uint8 HWC -> permute -> float -> interpolate(bilinear, align_corners=False,
antialias=False) -> /255 -> (x - mean) / std -> half. NV12 adds the YUV -> RGB matrix in torch
ops. Both run on the GPU; times are CUDA-event times of `--iters` back-to-back calls.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from gpu_check import MEAN, STD  # noqa: E402  (the one torch op chain, shared with gpu_check)
from gpu_check import torch_chain as _torch_chain  # noqa: E402


def torch_chain(torch, frame, fmt: str, h: int, w: int, out: int):
    return _torch_chain(torch, frame, fmt, h, w, out, "cuda")


def time_ms(torch, fn, iters: int) -> float:
    for _ in range(10):
        fn()
    times = []
    for _ in range(5):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(iters):
            fn()
        end.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(end) / iters)
    return statistics.median(times)


def bench(fmt: str, h: int, w: int, out: int, iters: int) -> dict:
    import torch

    from vla_edge.kernels.preprocess import PreprocessConfig, preprocess_cuda, preprocess_reference

    cfg = PreprocessConfig(w, h, out, out, format=fmt, layout="nchw-f16", mean=MEAN, std=STD)
    host = np.random.default_rng(0).integers(0, 256, cfg.frame_bytes, dtype=np.uint8)
    frame = torch.from_numpy(host).cuda()
    dst = torch.empty((1, 3, out, out), dtype=torch.float16, device="cuda")
    stream = torch.cuda.current_stream().cuda_stream

    def fused():
        preprocess_cuda(frame.data_ptr(), dst.data_ptr(), 1, cfg, stream)

    fused()
    torch.cuda.synchronize()
    exact = np.array_equal(
        dst.cpu().numpy().view(np.uint16), preprocess_reference(host, cfg).view(np.uint16)
    )
    ref_torch = torch_chain(torch, frame, fmt, h, w, out).float()
    fused_ms = time_ms(torch, fused, iters)
    torch_ms = time_ms(torch, lambda: torch_chain(torch, frame, fmt, h, w, out), iters)
    return {
        "format": fmt,
        "frame": f"{w}x{h}",
        "out": f"{out}x{out}",
        "fused_ms": fused_ms,
        "torch_ms": torch_ms,
        "speedup": torch_ms / fused_ms,
        "fused_bit_exact": exact,
        "max_abs_vs_torch": float((dst.float() - ref_torch).abs().max()),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--iters", type=int, default=200)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    import torch

    if not torch.cuda.is_available():
        sys.exit("bench_preprocess: needs a CUDA build of torch and a GPU")
    rows = [bench(fmt, 720, 1280, 224, args.iters) for fmt in ("rgb", "nv12")]
    rows += [bench("rgb", 480, 640, 224, args.iters)]
    result = {"gpu": torch.cuda.get_device_name(), "torch": torch.__version__, "rows": rows}
    for r in rows:
        print(
            f"{r['format']:5s} {r['frame']:>9s} -> {r['out']}: fused {r['fused_ms']:.3f} ms, "
            f"torch {r['torch_ms']:.3f} ms, x{r['speedup']:.1f}, bit-exact {r['fused_bit_exact']}"
        )
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
