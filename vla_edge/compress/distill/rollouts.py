"""Closed-loop frames for distillation: a policy acts in the simulator, every visited observation
is kept, and the trainer labels it with the teacher's output (labels are computed on the fly, so
only observations are collected).

- Teacher rollouts cover the states the teacher reaches, which demonstrations from a scripted
  expert do not.
- Student rollouts (DAgger): after part of the training the student itself acts, and the teacher
  labels the states the *student* reaches, including its own mistakes, so it learns to recover.

Episodes use placement seeds from the demonstration range [0, 100000) offset by ROLLOUT_SEED or
STUDENT_ROLLOUT_SEED (never the evaluation range), with the suite's tasks in turn."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from vla_edge.compress.distill.data import ArrayDemos
from vla_edge.errors import DependencyError, InputError

ROLLOUT_SEED = 50_000
STUDENT_ROLLOUT_SEED = 60_000


class Concat:
    """Demonstrations followed by rollout frames, as one indexable source."""

    def __init__(self, *parts) -> None:
        self.parts = parts

    def __len__(self) -> int:
        return sum(len(p) for p in self.parts)

    def __getitem__(self, i: int):
        for part in self.parts:
            if i < len(part):
                return part[i]
            i -= len(part)
        raise IndexError(i)


def _sim_envs(suite: str) -> tuple[list[str], Callable]:
    try:
        from vla_edge.sim.env import make_env
        from vla_edge.sim.suites import get_suite
    except ImportError as exc:
        raise DependencyError(
            "--rollouts needs the simulator (vla_edge.sim and the [sim] extra: "
            "pip install 'vla-edge[sim]'); or distil on demonstrations only (--rollouts 0)"
        ) from exc
    return get_suite(suite).task_names, lambda task, seed, size: make_env(suite, task, seed, size)


@torch.no_grad()
def _act(model, tok, obs: dict) -> np.ndarray:
    ids, mask = tok([obs["instruction"]])
    images = {k: torch.from_numpy(v[None]) for k, v in obs["frames"].items()}
    state = None if obs["state"] is None else torch.from_numpy(obs["state"][None])
    out = model(images, torch.from_numpy(ids), torch.from_numpy(mask), state)
    return out[0].numpy()


def run_episode(model, tok, env, max_steps: int | None = None) -> list[dict]:
    """Observations of one episode where `model` acts (each chunk executed open loop)."""
    env.reset()
    seen, done, steps = [], False, 0
    while not done and (max_steps is None or steps < max_steps):
        obs = {"frames": env.frames(), "instruction": env.instruction, "state": env.state()}
        seen.append({**obs, "actions": None})
        for action in _act(model, tok, obs):
            _, done = env.step(action)
            steps += 1
            if done:
                break
    return seen


def policy_frames(model, episodes: int, suite: str | None, tokenizer, seed: int, envs=None):
    """Observations (no actions) of `episodes` closed-loop episodes where `model` acts, tasks in
    turn, placement seeds seed, seed + 1, ... `envs`: optional (task names, factory(task, seed,
    size)) to use instead of vla_edge.sim."""
    if suite is None and envs is None:
        raise InputError("--rollouts needs --suite (e.g. mt10)")
    tasks, factory = envs or _sim_envs(suite)
    size = model.policy_spec.cameras[0].height
    was_training = model.training
    model.eval()
    frames: list[dict] = []
    try:
        for ep in range(episodes):
            env = factory(tasks[ep % len(tasks)], seed + ep, size)
            try:
                frames += run_episode(model, tokenizer, env)
            finally:
                env.close()
    finally:
        model.train(was_training)
    return _stack(frames)


def rollout_frames(teacher, demos, episodes: int, suite: str | None, tokenizer, envs=None):
    """demos + observations of `episodes` closed-loop teacher episodes on the suite."""
    return Concat(demos, policy_frames(teacher, episodes, suite, tokenizer, ROLLOUT_SEED, envs))


def student_round_seed(round_: int) -> int:
    """Placement seeds of the student's rollouts in round r (>= 1): inside the demonstration
    range, apart from the teacher's rollouts and from every other round."""
    return STUDENT_ROLLOUT_SEED + 1000 * round_


def _stack(samples: list[dict]) -> ArrayDemos:
    names = samples[0]["frames"].keys()
    states = None
    if samples[0]["state"] is not None:
        states = np.stack([s["state"] for s in samples]).astype(np.float32)
    return ArrayDemos(
        {k: np.stack([s["frames"][k] for s in samples]) for k in names},
        [s["instruction"] for s in samples],
        states,
    )
