"""Scripted demonstrations: Meta-World's expert policies with a little action noise for
coverage (DART-style: the executed action is noisy, the recorded label is the expert's clean
action), keeping only successful episodes.

Each episode records every camera of the suite, the policy's state (the suite's kind: 21-D
"full" or 4-D "proprio") and, on proprio suites, the 21-D privileged state the expert acted on
(`privileged`: for analysis and for students that learn from it)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vla_edge.errors import DataError
from vla_edge.sim.data import DemoWriter
from vla_edge.sim.env import ACTION_HIGH, ACTION_LOW, ACTION_NAMES, ACTION_UNITS
from vla_edge.sim.suites import DEMO_SEED_BASE, EVAL_SEED_BASE, get_suite


@dataclass
class DemoConfig:
    suite: str = "mt10"
    episodes: int = 20  # successful episodes per task
    noise: float = 0.1
    image_size: int | None = None
    max_attempts_factor: int = 3

    def __post_init__(self) -> None:
        get_suite(self.suite)
        if self.episodes < 1:
            raise DataError(f"--episodes must be >= 1, got {self.episodes}")
        if not 0 <= self.noise <= 1:
            raise DataError(f"--noise must be in [0, 1], got {self.noise}")


def _record(env, seed: int, noise: float, rng) -> tuple[bool, dict, np.ndarray, np.ndarray]:
    """One episode: (success, {camera: frames}, state, actions, {extra arrays})."""
    env.reset(seed)
    frames: dict[str, list] = {c: [] for c in env.cameras}
    states, privileged, actions = [], [], []
    done, success = False, False
    while not done:
        for cam, frame in env.frames().items():
            frames[cam].append(frame)
        states.append(env.state())
        privileged.append(env.privileged_state())
        expert = env.expert_action()
        actions.append(expert)
        executed = np.clip(expert + rng.normal(0, noise, 4), -1, 1) if noise else expert
        success, done = env.step(executed)
    extra = {} if env.suite.state == "full" else {"privileged": np.stack(privileged)}
    stacked = {c: np.stack(f) for c, f in frames.items()}
    return success, stacked, np.stack(states), np.stack(actions), extra


def demo_header(
    suite: str, camera: str | list[str], image_size: int, state_dim: int | None = None, **extra
) -> dict:
    """index.json header of a Meta-World demonstration set (see vla_edge.sim.data)."""
    from vla_edge.sim.suites import SUITES

    cameras = [camera] if isinstance(camera, str) else list(camera)
    known = SUITES.get(suite)
    action = {"names": ACTION_NAMES, "units": ACTION_UNITS, "low": ACTION_LOW, "high": ACTION_HIGH}
    return {
        "suite": suite,
        "camera": cameras[0],
        "cameras": cameras,
        "image_size": image_size,
        "state": known.state if known else "full",
        "state_dim": state_dim or (known.state_dim if known else 21),
        "action": action,
        **extra,
    }


def generate(config: DemoConfig, out: str | Path, progress: bool = True) -> dict:
    """Write (or resume) a demo set; returns counts per task."""
    from tqdm import tqdm

    from vla_edge.sim.env import make_env

    suite = get_suite(config.suite)
    size = config.image_size or suite.image_size
    header = demo_header(suite.name, list(suite.cameras), size, noise=config.noise)
    writer = DemoWriter(out, header)
    stats = {}
    total = len(suite.tasks) * config.episodes
    bar = tqdm(total=total, desc="demos", unit="ep", disable=not progress)
    for ti, task in enumerate(suite.tasks):
        kept = attempts = 0
        env = None
        for k in range(config.episodes * config.max_attempts_factor):
            seed = DEMO_SEED_BASE + ti * 10_000 + k
            assert seed < EVAL_SEED_BASE
            if kept >= config.episodes:
                break
            if writer.has(task.env_name, seed):
                kept += 1
                bar.update(1)
                continue
            attempts += 1
            env = env or make_env(suite.name, task.env_name, seed, size)
            ok, frames, state, actions, extra = _record(
                env, seed, config.noise, np.random.default_rng(seed)
            )
            if ok:
                writer.add(task.env_name, task.instruction, seed, frames, state, actions, extra)
                kept += 1
                bar.update(1)
        if env is not None:
            env.close()
        stats[task.env_name] = {"kept": kept, "attempts": attempts}
        bar.set_postfix_str(f"{task.env_name} {kept}")
    bar.close()
    return stats
