"""Task suites as data: a named list of Meta-World tasks, each with the natural-language
instruction the policy is given, the camera, image size, step cap, and seed ranges.

Demonstration seeds and evaluation seeds come from disjoint ranges, so a policy is never
evaluated on a goal/object placement it was trained on.
"""

from __future__ import annotations

from dataclasses import dataclass

from vla_edge.errors import SimError

DEMO_SEED_BASE = 0  # demonstrations use seeds [0, 100000)
EVAL_SEED_BASE = 100_000  # evaluation uses seeds [100000, ...)


@dataclass(frozen=True)
class TaskSpec:
    env_name: str  # Meta-World v3 environment name
    instruction: str
    max_steps: int = 200


@dataclass(frozen=True)
class Suite:
    name: str
    tasks: tuple[TaskSpec, ...]
    camera: str = "corner"
    image_size: int = 64
    description: str = ""

    def task(self, name: str) -> TaskSpec:
        for t in self.tasks:
            if name in (t.env_name, t.env_name.removesuffix("-v3")):
                return t
        raise SimError(
            f"suite {self.name!r} has no task {name!r}; its tasks: "
            f"{[t.env_name for t in self.tasks]}"
        )

    @property
    def task_names(self) -> list[str]:
        return [t.env_name for t in self.tasks]


MT10_TASKS = (
    TaskSpec("reach-v3", "reach the goal", 150),
    TaskSpec("push-v3", "push the puck to the goal", 200),
    TaskSpec("pick-place-v3", "pick up the puck and place it at the goal", 200),
    TaskSpec("door-open-v3", "open the door", 200),
    TaskSpec("drawer-open-v3", "open the drawer", 200),
    TaskSpec("drawer-close-v3", "close the drawer", 200),
    TaskSpec("button-press-topdown-v3", "press the button down", 200),
    TaskSpec("peg-insert-side-v3", "insert the peg into the hole", 200),
    TaskSpec("window-open-v3", "open the window", 200),
    TaskSpec("window-close-v3", "close the window", 200),
)

SUITES: dict[str, Suite] = {
    "mt10": Suite("mt10", MT10_TASKS, description="Meta-World MT10, goals visible in the state"),
    "mt3-smoke": Suite(
        "mt3-smoke",
        tuple(
            t
            for t in MT10_TASKS
            if t.env_name in ("drawer-close-v3", "button-press-topdown-v3", "window-close-v3")
        ),
        description="3 quick MT10 tasks for CI",
    ),
}


def get_suite(name: str) -> Suite:
    if name not in SUITES:
        raise SimError(f"unknown suite {name!r}; known suites: {sorted(SUITES)}")
    return SUITES[name]
