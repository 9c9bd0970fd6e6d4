"""Task suites as data: a named list of Meta-World tasks, each with the natural-language
instruction the policy is given, the cameras, image size, what the state holds, step cap, and
seed ranges.

Demonstration seeds and evaluation seeds come from disjoint ranges, so a policy is never
evaluated on a goal/object placement it was trained on.

State kinds: "full" is Meta-World's own observation (hand, gripper, object poses and the goal:
21 values), so a policy can act without its camera. "proprio" is what a real arm knows about
itself (hand xyz and gripper opening: 4 values); object and goal positions reach the policy only
through its cameras (the `*-vision` suites). The scripted experts always act from the
privileged state; only the policy's observation changes.
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


STATE_DIMS = {"full": 21, "proprio": 4}


@dataclass(frozen=True)
class Suite:
    name: str
    tasks: tuple[TaskSpec, ...]
    cameras: tuple[str, ...] = ("corner",)
    image_size: int = 64
    state: str = "full"  # see STATE_DIMS
    description: str = ""

    @property
    def camera(self) -> str:
        """The first (scene) camera."""
        return self.cameras[0]

    @property
    def state_dim(self) -> int:
        return STATE_DIMS[self.state]

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

# A scene camera and a wrist camera, as real arms have: from `corner` the goal and the puck are a
# few pixels (benchmarks/results/camera_survey.md), `gripperPOV` shows them many pixels wide
# near the hand and is never hidden by the arm (`behindGripper` is, at some start poses).
VISION_CAMERAS = ("corner", "gripperPOV")
VISION_SIZE = 96


def _pick(names: tuple[str, ...]) -> tuple[TaskSpec, ...]:
    return tuple(t for t in MT10_TASKS if t.env_name in names)


SMOKE_TASKS = ("drawer-close-v3", "button-press-topdown-v3", "window-close-v3")
VISION_SMOKE_TASKS = ("drawer-open-v3", "button-press-topdown-v3", "window-open-v3")

SUITES: dict[str, Suite] = {
    "mt10": Suite("mt10", MT10_TASKS, description="Meta-World MT10, goals visible in the state"),
    "mt3-smoke": Suite("mt3-smoke", _pick(SMOKE_TASKS), description="3 quick MT10 tasks for CI"),
    "mt10-vision": Suite(
        "mt10-vision",
        MT10_TASKS,
        cameras=VISION_CAMERAS,
        image_size=VISION_SIZE,
        state="proprio",
        description="MT10 with a proprio-only state: objects and goals only through the cameras",
    ),
    "mt3-vision-smoke": Suite(
        "mt3-vision-smoke",
        _pick(VISION_SMOKE_TASKS),
        cameras=VISION_CAMERAS,
        image_size=VISION_SIZE,
        state="proprio",
        description="3 mt10-vision tasks whose placement varies widely, for CI",
    ),
}


def get_suite(name: str) -> Suite:
    if name not in SUITES:
        raise SimError(f"unknown suite {name!r}; known suites: {sorted(SUITES)}")
    return SUITES[name]
