"""A trained stand-in for the shipped policy, until it lands: behaviour-clone the reference
model on a synthetic visual task (move toward the block the instruction names; close the gripper
for red), export it, write calibration frames of the same task, then run quantize_compare on it.

Random-init weights are a poor proxy for quantization (untrained logits are near-ties, so any
rounding flips bins); a policy trained even briefly has peaked logits like a real one.

    python benchmarks/quantize_synthetic_task.py --preset small --steps 300 \
        --out benchmarks/results/quantize_compare_synthetic_small_bins
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

COLOURS = {"red": (220, 40, 40), "blue": (40, 60, 220), "green": (40, 190, 60)}


def scene(rng, size: int) -> tuple[np.ndarray, dict[str, tuple[float, float]]]:
    """A grey table with three coloured blocks; returns the frame and block centres in [-1, 1]."""
    img = np.full((size, size, 3), 128, np.uint8) + rng.integers(0, 12, (size, size, 3), np.uint8)
    where = {}
    s = max(4, size // 8)
    for name, rgb in COLOURS.items():
        y, x = rng.integers(0, size - s, 2)
        img[y : y + s, x : x + s] = rgb
        where[name] = ((x + s / 2) / size * 2 - 1, (y + s / 2) / size * 2 - 1)
    return img, where


def sample(rng, n: int, size: int, spec) -> dict:
    low, high = np.array(spec.action.low), np.array(spec.action.high)
    frames, texts, actions = [], [], []
    for _ in range(n):
        img, where = scene(rng, size)
        target = rng.choice(list(COLOURS))
        x, y = where[target]
        a = np.array([x, y, -0.5 * (x * y), 1.0 if target == "red" else 0.0])
        a = _to_limits(a, low, high)
        frames.append(img)
        texts.append(f"move to the {target} block")
        actions.append(np.repeat(a[None], spec.action.chunk, 0))
    states = rng.standard_normal((n, spec.state_dim)).astype(np.float32) * 0.1
    return {
        "frames": np.stack(frames),
        "texts": texts,
        "actions": np.stack(actions),
        "state": states,
    }


def _to_limits(a: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    out = a.copy()
    out[:3] = low[:3] + (np.clip(a[:3], -1, 1) * 0.5 + 0.5) * (high[:3] - low[:3])
    return out.astype(np.float32)


def train(ck: Path, steps: int, batch: int, seed: int) -> float:
    import torch

    from vla_edge.backends.torch import ModelFromCheckpoint
    from vla_edge.policy.checkpoints import save_checkpoint
    from vla_edge.policy.tokenizer import load_tokenizer

    torch.manual_seed(seed)
    model = ModelFromCheckpoint(ck)().train()
    spec = model.policy_spec
    tok = load_tokenizer(spec.instruction.tokenizer, spec.instruction.max_tokens)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-4, weight_decay=0.01)
    rng, cam, size = np.random.default_rng(seed), spec.cameras[0].name, spec.cameras[0].height
    t, loss = time.perf_counter(), None
    for step in range(steps):
        d = sample(rng, batch, size, spec)
        ids, mask = (torch.from_numpy(x) for x in tok(d["texts"]))
        loss = model.compute_loss(
            {cam: torch.from_numpy(d["frames"])},
            ids,
            mask,
            torch.from_numpy(d["state"]),
            torch.from_numpy(d["actions"]),
        )
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 50 == 0 or step == steps - 1:
            print(
                f"step {step} loss {loss.item():.4f} ({time.perf_counter() - t:.0f} s)", flush=True
            )
    save_checkpoint(model.eval(), ck, tokenizer=None)
    return float(loss.item())


def write_calibration(path: Path, spec, n: int, seed: int) -> None:
    d = sample(np.random.default_rng(seed), n, spec.cameras[0].height, spec)
    np.savez(
        path,
        **{spec.cameras[0].input_name: d["frames"]},
        instructions=np.array(d["texts"]),
        state=d["state"],
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--preset", default="small")
    ap.add_argument("--head", default="bins")
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--work", default="/tmp/vla-quant-synthetic")
    ap.add_argument("--out", default="benchmarks/results/quantize_compare_synthetic")
    ap.add_argument("--rounds", type=int, default=4)
    args, rest = ap.parse_known_args()
    import torch

    from vla_edge.export import ExportConfig, export_checkpoint
    from vla_edge.policy.checkpoints import create_checkpoint

    torch.set_num_threads(2)
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    ck = work / f"ck-{args.preset}-{args.head}"
    create_checkpoint(ck, args.preset, args.head, None, ("front",), 4, 8, "own", 0, True)
    final = train(ck, args.steps, args.batch, seed=0)
    exported = export_checkpoint(ck, work / "fp32", ExportConfig(force=True))
    bundle, spec = exported.path, exported.spec
    calib = work / "calib.npz"
    write_calibration(calib, spec, 256, seed=123)
    print(f"trained {args.steps} steps (final loss {final:.4f}); bundle {bundle}", flush=True)
    cmd = [
        sys.executable,
        str(Path(__file__).with_name("quantize_compare.py")),
        "--bundle",
        str(bundle),
        "--calib",
        str(calib),
        "--rounds",
        str(args.rounds),
        "--out",
        args.out,
        "--note",
        f"synthetic colour-block task, {args.preset}/{args.head}, BC {args.steps} "
        f"steps x batch {args.batch}, final loss {final:.4f}",
        *rest,
    ]
    subprocess.run(cmd, check=True)


if __name__ == "__main__":
    main()
