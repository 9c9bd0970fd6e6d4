"""Ablations: what a policy's success depends on, measured on the evaluation's own seeds.

    vla-edge eval exports/pick --suite mt10-vision --ablate vision --ablate language

Each variant changes one part of what the policy is given and nothing else (same placements,
same step caps):

| group    | variant                | the policy is given                                        |
| vision   | `vision-black`         | all-black frames from every camera                         |
| vision   | `vision-other-episode` | the frames of another episode of the same task (the next   |
|          |                        | evaluation placement), driven by the same actions          |
| language | `language-empty`       | an empty instruction                                       |
| language | `language-other-task`  | the next task's instruction in the suite                   |
| state    | `state-mean`           | the training data's mean state (from the spec) every step  |

A policy that uses its camera loses success under `vision-*`; one that reads the task from its
instruction loses it under `language-*`.
"""

from __future__ import annotations

import numpy as np

from vla_edge.errors import SimError

GROUPS = {
    "vision": ("vision-black", "vision-other-episode"),
    "language": ("language-empty", "language-other-task"),
    "state": ("state-mean",),
}


def variants(groups: list[str]) -> list[str]:
    """Variant names for `--ablate` groups (a variant name is accepted as itself)."""
    known = {v for vs in GROUPS.values() for v in vs}
    out: list[str] = []
    for g in groups:
        if g in GROUPS:
            out += [v for v in GROUPS[g] if v not in out]
        elif g in known:
            out += [] if g in out else [g]
        else:
            raise SimError(
                f"unknown ablation {g!r}; choose from {sorted(GROUPS)} or {sorted(known)}"
            )
    return out


class View:
    """What the policy is given each prediction (the plain evaluation: everything as is)."""

    def __init__(self, policy, suite) -> None:
        self.policy, self.suite = policy, suite
        self.cameras = policy.spec.camera_names

    def start(self, env, task_index: int, other_seed: int) -> None:
        """Called after each env.reset()."""

    def frames(self, env) -> dict[str, np.ndarray]:
        return {c: f for c, f in env.frames().items() if c in self.cameras}

    def instruction(self, env) -> str:
        return env.instruction

    def state(self, env) -> np.ndarray:
        return env.state()

    def step(self, action: np.ndarray) -> None:
        """Called with each action the real environment executes."""

    def close(self) -> None:
        pass


class BlackFrames(View):
    def frames(self, env):
        return {c: np.zeros_like(f) for c, f in super().frames(env).items()}


class OtherEpisode(View):
    """Frames of a shadow environment: same task, another placement, same actions."""

    shadow = None

    def start(self, env, task_index: int, other_seed: int) -> None:
        from vla_edge.sim.env import make_env

        if self.shadow is None or self.shadow.task.env_name != env.task.env_name:
            self.close()
            self.shadow = make_env(self.suite.name, env.task.env_name, other_seed, env.image_size)
        self.shadow.reset(other_seed)

    def frames(self, env):
        return super().frames(self.shadow)

    def step(self, action):
        self.shadow.step(action)

    def close(self) -> None:
        if self.shadow is not None:
            self.shadow.close()
            self.shadow = None


class EmptyInstruction(View):
    def instruction(self, env):
        return ""


class OtherTask(View):
    def start(self, env, task_index: int, other_seed: int) -> None:
        tasks = self.suite.tasks
        self.text = tasks[(task_index + 1) % len(tasks)].instruction

    def instruction(self, env):
        return self.text


class MeanState(View):
    def __init__(self, policy, suite) -> None:
        super().__init__(policy, suite)
        mean = policy.spec.normalization.state_mean
        if not mean:
            raise SimError(
                "state-mean needs the training data's state mean in the policy's spec "
                "(normalization.state_mean); this policy has none"
            )
        self.mean = np.asarray(mean, np.float32)

    def state(self, env):
        return self.mean.copy()


VIEWS = {
    "plain": View,
    "vision-black": BlackFrames,
    "vision-other-episode": OtherEpisode,
    "language-empty": EmptyInstruction,
    "language-other-task": OtherTask,
    "state-mean": MeanState,
}


def make_view(name: str, policy, suite) -> View:
    return VIEWS[name](policy, suite)


def summary(report: dict, variant: str) -> dict:
    """The figures of one ablated run kept beside the plain result."""
    return {
        "variant": variant,
        "success_rate": report["success_rate"],
        "successes": report["successes"],
        "episodes": report["episodes"],
        "tasks": {
            t: {"successes": v["successes"], "episodes": v["episodes"]}
            for t, v in report["tasks"].items()
        },
    }
