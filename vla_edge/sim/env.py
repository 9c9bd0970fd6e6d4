"""One Meta-World task as a robot: camera frames, proprio state, 4-D actions, success.

    env = make_env("mt10", "drawer-open-v3", seed=100_000)
    env.reset(); frames = env.frames(); state = env.state()
    success, done = env.step(action)

The goal/object placement of an episode comes from `seed` (our own RNG over the task's reset
space), so demonstrations and evaluations draw from disjoint, reproducible placements. The
privileged state is the current-frame part of Meta-World's observation (hand xyz, gripper
opening, two object poses) plus the goal position: 21 values; `state()` is that on a "full"
suite and hand xyz + gripper opening (4 values) on a "proprio" one (mt10-vision), where objects
and goals reach the policy only through the cameras. The experts always see everything.
"""

from __future__ import annotations

import pickle
import warnings

import numpy as np

from vla_edge.deps import require
from vla_edge.errors import SimError
from vla_edge.sim.render import FastRenderer, choose_gl_backend
from vla_edge.sim.suites import Suite, TaskSpec, get_suite

STATE_DIM = 21  # the privileged ("full") state
PROPRIO = slice(0, 4)  # hand xyz, gripper opening
ACTION_NAMES = ["dx", "dy", "dz", "gripper"]
# Meta-World moves the mocap by action * 1 cm per step; the gripper takes an effort in [-1, 1]
ACTION_UNITS = ["cm/step", "cm/step", "cm/step", "effort"]
ACTION_LOW = [-1.0, -1.0, -1.0, -1.0]
ACTION_HIGH = [1.0, 1.0, 1.0, 1.0]
# the hand moves by deltas; the gripper effort is a setting (repeating it keeps the grasp)
ACTION_KIND = ["delta", "delta", "delta", "absolute"]


class SimEnv:
    def __init__(
        self, suite: Suite, task: TaskSpec, seed: int, image_size: int | None = None
    ) -> None:
        choose_gl_backend()
        require("metaworld", extra="sim", purpose="run Meta-World tasks")
        from metaworld.env_dict import ALL_V3_ENVIRONMENTS, ML1_ARGS_KWARGS

        if task.env_name not in ALL_V3_ENVIRONMENTS:
            raise SimError(f"Meta-World has no environment {task.env_name!r}")
        self.suite, self.task, self.seed = suite, task, seed
        self.instruction = task.instruction
        self.cameras = list(suite.cameras)
        self.camera = self.cameras[0]
        self.image_size = image_size or suite.image_size
        cls = ALL_V3_ENVIRONMENTS[task.env_name]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self._env = cls()
        kwargs = dict(ML1_ARGS_KWARGS[task.env_name]["kwargs"])
        kwargs.pop("task_id", None)
        self._env._set_task_inner(**kwargs)  # noqa: SLF001 - Meta-World's own task protocol
        self._task_kwargs = kwargs
        self._renderer = FastRenderer(self._env.model, self.camera, self.image_size)
        self._obs: np.ndarray | None = None
        self.steps = 0
        self.success = False

    # --- spec-facing description ---------------------------------------------------------------
    @property
    def spec_cameras(self) -> list[tuple[str, int, int]]:
        return [(c, self.image_size, self.image_size) for c in self.cameras]

    @property
    def state_dim(self) -> int:
        return self.suite.state_dim

    action_names, action_units = ACTION_NAMES, ACTION_UNITS
    action_low, action_high = ACTION_LOW, ACTION_HIGH

    # --- episode -------------------------------------------------------------------------------
    def _rand_vec(self) -> np.ndarray:
        """Object/goal placement for this seed. Meta-World resamples some placements in a
        `while` loop (object and goal >= 15 cm apart, peg and box >= 10 cm); with a frozen
        vector that loop never ends, so the same constraints are met here first."""
        space = self._env._random_reset_space  # noqa: SLF001
        rng = np.random.default_rng(self.seed)
        for _ in range(10_000):
            vec = rng.uniform(space.low, space.high, size=space.low.size)
            if _placement_ok(self.task.env_name, vec):
                return vec
        raise SimError(f"no valid placement found for {self.task.env_name} seed {self.seed}")

    def reset(self, seed: int | None = None) -> None:
        """Start an episode; `seed` (if given) picks a new goal/object placement."""
        from metaworld.types import Task

        if seed is not None:
            self.seed = seed
        data = dict(
            self._task_kwargs,
            rand_vec=self._rand_vec(),
            env_cls=type(self._env),
            partially_observable=False,
        )
        self._env.set_task(Task(env_name=self.task.env_name, data=pickle.dumps(data)))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self._obs, _ = self._env.reset()
        self.steps, self.success = 0, False

    def _require_reset(self) -> np.ndarray:
        if self._obs is None:
            raise SimError("call reset() before frames(), state() or step()")
        return self._obs

    def frames(self) -> dict[str, np.ndarray]:
        self._require_reset()
        return {c: self._renderer.render(self._env.data, c) for c in self.cameras}

    def state(self) -> np.ndarray:
        """What the policy is given: the suite's state kind (see vla_edge.sim.suites)."""
        full = self.privileged_state()
        return full if self.suite.state == "full" else full[PROPRIO].copy()

    def privileged_state(self) -> np.ndarray:
        """Hand, gripper, object poses and goal (21 values): what the experts act on."""
        obs = self._require_reset()
        return np.concatenate([obs[:18], obs[36:39]]).astype(np.float32)

    def step(self, action: np.ndarray) -> tuple[bool, bool]:
        """Apply one action (clipped to [-1, 1]); returns (success so far, episode done)."""
        self._require_reset()
        a = np.clip(np.asarray(action, dtype=np.float32).reshape(-1), -1.0, 1.0)
        if a.shape != (4,) or not np.isfinite(a).all():
            raise SimError(f"action must be 4 finite values, got {action!r}")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self._obs, _, _, truncated, info = self._env.step(a)
        self.steps += 1
        self.success = self.success or bool(info["success"])
        done = self.success or truncated or self.steps >= self.task.max_steps
        return self.success, done

    def expert_action(self) -> np.ndarray:
        """The Meta-World scripted expert's action for the current observation."""
        from metaworld.policies import ENV_POLICY_MAP

        if not hasattr(self, "_expert"):
            self._expert = ENV_POLICY_MAP[self.task.env_name]()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return np.clip(self._expert.get_action(self._require_reset()), -1, 1).astype(np.float32)

    def close(self) -> None:
        self._renderer.close()
        self._env.close()


_MIN_SEPARATION = {
    "reach-v3": 0.15,
    "push-v3": 0.15,
    "pick-place-v3": 0.15,
    "peg-insert-side-v3": 0.1,
}


def _placement_ok(env_name: str, vec: np.ndarray) -> bool:
    gap = _MIN_SEPARATION.get(env_name)
    if gap is None or len(vec) < 6:
        return True
    return bool(np.linalg.norm(vec[0:2] - vec[3:5]) >= gap)


def make_env(suite: str, task: str, seed: int, image_size: int | None = None) -> SimEnv:
    s = get_suite(suite)
    return SimEnv(s, s.task(task), seed, image_size)


def suite_spec(
    suite: str, chunk: int, representation: str, image_size: int | None = None, max_tokens: int = 48
):
    """PolicySpec for a suite (no normalization: training fills it in from the data)."""
    from vla_edge.policy.spec import ActionSpace, CameraSpec, InstructionSpec, PolicySpec

    s = get_suite(suite)
    size = image_size or s.image_size
    return PolicySpec(
        cameras=[CameraSpec(c, size, size) for c in s.cameras],
        action=ActionSpace(
            ACTION_NAMES,
            ACTION_UNITS,
            ACTION_LOW,
            ACTION_HIGH,
            chunk=chunk,
            representation=representation,
            kind=list(ACTION_KIND),
        ),
        state_dim=s.state_dim,
        instruction=InstructionSpec(max_tokens=max_tokens, tokenizer="byte"),
    )
