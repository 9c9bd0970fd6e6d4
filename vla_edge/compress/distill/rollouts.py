"""Closed-loop frames for distillation (DAgger-style): the policy acts in the simulator, the
teacher labels every visited frame (labels are computed on the fly by the trainer, so only the
observations are collected here), and these frames join the demonstration frames.

Needs the simulator package (vla_edge.sim, the [sim] extra) and a rollout entry point in it."""

from __future__ import annotations

from vla_edge.errors import DependencyError


class _Concat:
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


def rollout_frames(teacher, demos, episodes: int, suite: str | None, tokenizer_dir):
    """demos + the observations of `episodes` closed-loop episodes of the teacher on `suite`."""
    try:
        from vla_edge.sim.rollout import collect_observations
    except ImportError as exc:
        raise DependencyError(
            "--rollouts needs the simulator (vla_edge.sim with the [sim] extra: "
            "pip install 'vla-edge[sim]'); distil on demonstration frames only (--rollouts 0)"
        ) from exc
    frames = collect_observations(
        teacher, suite=suite, episodes=episodes, tokenizer_dir=tokenizer_dir
    )
    return _Concat(demos, frames)
