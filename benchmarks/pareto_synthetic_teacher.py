"""A stand-in teacher for the Pareto report until the simulator's shipped policy exists: the
`small` preset (128 px camera) behaviour-cloned on synthetic demonstrations
(vla_edge.compress.distill.synthetic), plus the demonstrations as a .npz for prune/distill.

    python benchmarks/pareto_synthetic_teacher.py --out /tmp/pareto --steps 150
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", default="/tmp/pareto")
    ap.add_argument("--preset", default="small")
    ap.add_argument("--head", default="bins")
    ap.add_argument("--frames", type=int, default=2000)
    ap.add_argument("--steps", type=int, default=150)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()

    import torch

    from vla_edge.compress.distill import synthetic_demos
    from vla_edge.compress.distill.synthetic import fit_synthetic
    from vla_edge.policy.reference import VlaForActions, default_spec, preset_config

    torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    spec = default_spec(args.preset, args.head)
    demos = synthetic_demos(spec, args.frames, seed=0)
    demos.save(out / "demos.npz")
    torch.manual_seed(0)
    model = VlaForActions(preset_config(args.preset, spec))
    t = time.perf_counter()
    fit_synthetic(model, demos, out / "teacher", steps=args.steps, batch_size=args.batch_size)
    print(f"teacher {out / 'teacher'}: {args.steps} steps in {time.perf_counter() - t:.0f} s")


if __name__ == "__main__":
    main()
