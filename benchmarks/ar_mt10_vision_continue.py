"""Continue training an autoregressive checkpoint (a warm restart) on its demonstrations.

The shipped `mt10-vision-ar` saw 1600 x 32 = 51k samples, a quarter of `mt10-vision-bins`
(3000 x 64); its loss was still falling. `vla-edge train --resume` needs the optimizer state,
which a shipped policy does not carry, so this script starts from the checkpoint's weights with
a fresh AdamW and a new warmup + cosine schedule, using the project's own training pieces
(`vla_edge.train.bc`: the same minibatches, loss, gradient clipping, checkpoint format, and the
frozen-trunk feature cache). The demonstrations must be the ones the checkpoint was trained on
(their normalization statistics are checked against the checkpoint's spec).

    python benchmarks/ar_mt10_vision_continue.py --init vla_edge/assets/policies/mt10-vision-ar \
        --data DEMOS --feature-cache FEATURES --steps 1600 --batch 32 --lr 5e-4 --warmup 100 \
        --seed 1 --threads 1 -o runs/mt10-vision-ar-3200
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--init", type=Path, required=True, help="autoregressive checkpoint dir")
    ap.add_argument("--data", type=Path, required=True, help="its demonstrations")
    ap.add_argument("--feature-cache", type=Path, required=True)
    ap.add_argument("--steps", type=int, default=1600)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=5e-4)
    ap.add_argument("--warmup", type=int, default=100)
    ap.add_argument("--seed", type=int, default=1, help="minibatch order (not the first run's)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--save-every", type=int, default=200)
    ap.add_argument("-o", "--out", type=Path, required=True)
    args = ap.parse_args()

    import torch

    from vla_edge.policy.autoregressive.modeling import ArVlaForActions
    from vla_edge.policy.tokenizer import ByteTokenizer
    from vla_edge.sim.data import DemoDataset
    from vla_edge.train.bc import Batches, TrainConfig, data_spec, optimize
    from vla_edge.train.features import cached_features

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    model = ArVlaForActions.from_pretrained(str(args.init))
    for enc in model.cameras.values():  # loading clears the frozen trunk's requires_grad flags
        for p in [*enc.stem.parameters(), *enc.frozen_blocks.parameters()]:
            p.requires_grad_(False)
    first = json.loads((args.init / "train_summary.json").read_text())
    dataset = DemoDataset(args.data)
    chunk = model.policy_spec.action.chunk
    spec, arr = data_spec(dataset, chunk, "bins")
    want, got = model.policy_spec.normalization, spec.normalization
    for name in ("state_mean", "state_std"):
        a, b = np.asarray(getattr(want, name)), np.asarray(getattr(got, name))
        if not np.allclose(a, b, atol=1e-4):
            raise SystemExit(
                f"{args.data} is not the data {args.init} was trained on: {name} {b} vs {a}"
            )
    cached = cached_features(model, dataset, arr["frames"], args.feature_cache, args.threads, True)
    cfg = TrainConfig(
        preset=first["config"]["preset"],
        head="ar",
        steps=args.steps,
        batch=args.batch,
        lr=args.lr,
        warmup=args.warmup,
        chunk=chunk,
        seed=args.seed,
        threads=args.threads,
        save_every=args.save_every,
        feature_cache=str(args.feature_cache),
        overrides=first["config"]["overrides"],
    )
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    rng = np.random.default_rng(cfg.seed)
    tokenizer = ByteTokenizer(spec.instruction.max_tokens)
    batches = Batches(arr, tokenizer, cfg.chunk, cfg.batch, cfg.shift, rng, cached)
    t0 = time.perf_counter()
    history = optimize(model, opt, params, batches, cfg, args.out, desc="continue ar")
    curve = [
        [s + 100, round(float(np.mean(history[s : s + 100])), 4)]
        for s in range(0, len(history), 100)
    ]
    summary = {
        "steps": first["steps"] + cfg.steps,
        "seconds": round(first["seconds"] + time.perf_counter() - t0, 1),
        "final_loss": float(np.mean(history[-50:])),
        "parameters": sum(p.numel() for p in model.parameters()),
        "trainable_parameters": sum(p.numel() for p in params),
        "vision": "cached frozen-trunk features",
        "episodes": len(dataset.episodes),
        "samples": len(arr["state"]),
        "config": asdict(cfg),
        "continued_from": {
            "checkpoint": str(args.init),
            "steps": first["steps"],
            "final_loss": first["final_loss"],
            "config": first["config"],
        },
        "continue_seconds": round(time.perf_counter() - t0, 1),
        "continue_loss_per_100_steps": curve,
    }
    (args.out / "train_summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps({k: v for k, v in summary.items() if k != "config"}, indent=2))


if __name__ == "__main__":
    main()
