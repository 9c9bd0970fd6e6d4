"""The simulator as a camera and a robot: `--sim SUITE:TASK`.

One SimSession wraps one environment from `vla_edge.sim.env.make_env` (reset(), frames() ->
{camera: uint8 HxWx3}, state(), step(action) -> (success, done), instruction, close()).
SimCamera renders in the loop thread when read (MuJoCo is not thread-safe, and a frame must
show the state after the last step); SimRobot steps the environment with each command. The run
ends when the episode succeeds or is done.
"""

from __future__ import annotations

import numpy as np

from vla_edge.errors import RuntimeLoopError, SimError
from vla_edge.runtime.actuators.base import Actuator, ActuatorSpace, Command
from vla_edge.runtime.cameras.base import Camera


class SimSession:
    def __init__(self, env) -> None:
        self.env = env
        self.steps = 0
        self.success = False
        self.done = False
        self._frames: dict[str, np.ndarray] | None = None
        self._frames_step = -1
        self._reset = False

    @classmethod
    def open(cls, target: str, seed: int = 0, image_size: int | None = None) -> SimSession:
        """`SUITE:TASK`; `seed` N picks evaluation placement N (seeds from the simulator's
        EVAL_SEED_BASE, disjoint from the demonstrations a policy was trained on)."""
        suite, sep, task = target.partition(":")
        if not sep or not suite or not task:
            raise RuntimeLoopError(f"--sim needs SUITE:TASK (e.g. mt10:reach-v3), got {target!r}")
        try:
            from vla_edge.sim.env import make_env
            from vla_edge.sim.suites import EVAL_SEED_BASE
        except ImportError as exc:
            raise SimError(f"the simulator module is not available ({exc})") from exc
        return cls(make_env(suite, task, seed=EVAL_SEED_BASE + seed, image_size=image_size))

    def reset(self) -> None:
        if not self._reset:
            self.env.reset()
            self._reset = True

    def frames(self) -> dict[str, np.ndarray]:
        self.reset()
        if self._frames_step != self.steps:
            self._frames = self.env.frames()
            self._frames_step = self.steps
        return self._frames  # type: ignore[return-value]

    def step(self, action: np.ndarray) -> None:
        success, done = self.env.step(np.asarray(action, dtype=np.float32))
        self.steps += 1
        self.success = self.success or bool(success)
        self.done = bool(done)

    @property
    def instruction(self) -> str:
        return str(getattr(self.env, "instruction", ""))

    def close(self) -> None:
        self.env.close()


class SimCamera(Camera):
    """One camera of the simulator, rendered when read (not threaded)."""

    threaded = False
    kind = "sim"

    def __init__(self, session: SimSession, name: str, source: str | None = None) -> None:
        super().__init__(name=name)
        self.session = session
        self.source = source or name  # the simulator's camera name

    def describe(self) -> str:
        return f"sim camera {self.source!r}"

    def _open(self) -> None:
        cams = self.session.frames()
        if self.source not in cams:
            raise RuntimeLoopError(
                f"the simulator has cameras {sorted(cams)}, not {self.source!r}; "
                f"map them with --camera {self.name}=sim:<one of those>"
            )

    def _grab(self) -> np.ndarray:
        return self.session.frames()[self.source]


class SimRobot(Actuator):
    """Steps the simulator with each action; a stop command does not step."""

    kind = "sim"

    def __init__(self, session: SimSession) -> None:
        super().__init__()
        self.session = session

    @property
    def action_space(self) -> ActuatorSpace:
        """What the simulated robot takes (names, units, limits when the env says)."""
        env = self.session.env
        return ActuatorSpace(
            dim=env_action_dim(env),
            names=_list(getattr(env, "action_names", None)),
            units=_list(getattr(env, "action_units", None)),
            low=_list(getattr(env, "action_low", None)),
            high=_list(getattr(env, "action_high", None)),
        )

    @property
    def episode(self) -> dict:
        s = self.session
        return {"steps": s.steps, "success": s.success, "done": s.done}

    def describe(self) -> str:
        return "sim robot"

    def state(self) -> np.ndarray | None:
        self.session.reset()
        state = self.session.env.state()
        return None if state is None else np.asarray(state, dtype=np.float32)

    def _write(self, command: Command) -> None:
        if command.kind == "stop":
            return
        self.session.step(command.values)
        if self.session.success:
            self.finished = f"episode succeeded after {self.session.steps} steps"
        elif self.session.done:
            self.finished = f"episode ended without success after {self.session.steps} steps"

    def _close(self) -> None:
        self.session.close()


def env_action_dim(env) -> int | None:
    names = getattr(env, "action_names", None)
    if names is not None:
        return len(names)
    space = getattr(env, "action_space", None)
    shape = getattr(space, "shape", None)
    return int(shape[0]) if shape else getattr(env, "action_dim", None)


def _list(values) -> list | None:
    return None if values is None else list(values)
