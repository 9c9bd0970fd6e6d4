"""A small synthetic demonstration set with learnable structure, for tests and for trying the
prune/distill pipeline without a simulator: a bright square on a noisy background; the action
moves towards the square (its sign set by the instruction) and the gripper follows the state."""

from __future__ import annotations

import numpy as np

from vla_edge.compress.distill.data import ArrayDemos
from vla_edge.policy.spec import PolicySpec

INSTRUCTIONS = ("reach the square", "avoid the square")


def synthetic_demos(spec: PolicySpec, n: int, seed: int = 0) -> ArrayDemos:
    rng = np.random.default_rng(seed)
    frames = {}
    pos = rng.uniform(0.15, 0.85, (n, 2))
    for cam in spec.cameras:
        img = rng.integers(0, 40, (n, cam.height, cam.width, 3), dtype=np.uint8)
        side = max(2, cam.height // 6)
        for i in range(n):
            r = int(pos[i, 0] * (cam.height - side))
            c = int(pos[i, 1] * (cam.width - side))
            img[i, r : r + side, c : c + side] = (230, 200, 40)
        frames[cam.name] = img
    task = rng.integers(0, len(INSTRUCTIONS), n)
    states = rng.standard_normal((n, spec.state_dim)).astype(np.float32)
    return ArrayDemos(
        frames,
        [INSTRUCTIONS[t] for t in task],
        states if spec.state_dim else None,
        _actions(spec, pos, task, states),
    )


def _actions(spec: PolicySpec, pos: np.ndarray, task: np.ndarray, states: np.ndarray):
    low, high = np.asarray(spec.action.low), np.asarray(spec.action.high)
    a_dim, chunk = len(low), spec.action.chunk
    z = np.zeros((len(pos), chunk, a_dim), np.float32)  # in [-1, 1], then mapped into limits
    sign = np.where(task == 0, 1.0, -1.0)[:, None]
    for k in range(chunk):
        decay = 1.0 - 0.15 * k
        z[:, k, 0] = sign[:, 0] * (pos[:, 0] - 0.5) * 1.6 * decay
        if a_dim > 1:
            z[:, k, 1] = sign[:, 0] * (pos[:, 1] - 0.5) * 1.6 * decay
        if a_dim > 2 and states.shape[1]:
            z[:, k, 2:] = np.tanh(states[:, :1])
    z = np.clip(z, -0.95, 0.95)
    return (low + (z + 1.0) / 2.0 * (high - low)).astype(np.float32)


def fit_synthetic(model, demos, out, steps: int = 150, batch_size: int = 32, seed: int = 0):
    """Behaviour-clone `model` on (synthetic) demonstrations and save it to `out`: a teacher
    with real structure for trying prune/distill without a simulator."""
    from vla_edge.compress.distill.batches import Collator
    from vla_edge.compress.distill.losses import BCObjective
    from vla_edge.compress.distill.trainer import Fit, TrainConfig
    from vla_edge.policy.checkpoints import save_checkpoint
    from vla_edge.policy.tokenizer import load_tokenizer

    spec = model.policy_spec
    tok = load_tokenizer(spec.instruction.tokenizer, spec.instruction.max_tokens, None)
    cfg = TrainConfig(steps=steps, batch_size=batch_size, lr=1e-3, seed=seed, progress=False)
    save = lambda m: save_checkpoint(m, out)  # noqa: E731
    Fit(
        BCObjective(model.train()), None, demos, Collator(tok, spec.state_dim), cfg, out, save
    ).run()
    return model.eval()
