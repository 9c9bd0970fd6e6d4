"""A recording actuator: keeps every command it received; can fail on chosen writes."""

from __future__ import annotations

import threading

import numpy as np

from vla_edge.runtime.actuators.base import Actuator, ActuatorSpace, Command


class RecordingActuator(Actuator):
    kind = "recording"

    def __init__(
        self,
        space: ActuatorSpace | None = None,
        fail_writes=(),
        fail_from: int | None = None,
        state: np.ndarray | None = None,
        on_write=None,
    ) -> None:
        super().__init__()
        self.space = space
        self.fail_writes = set(fail_writes)  # write attempts (1-based) that raise
        self.fail_from = fail_from  # every attempt from this one on raises
        self.attempts = 0
        self.commands: list[Command] = []
        self.robot_state = state
        self.on_write = on_write
        self.lock = threading.Lock()
        self.threads: set[str] = set()

    @property
    def action_space(self) -> ActuatorSpace:
        return self.space or ActuatorSpace()

    def state(self):
        return self.robot_state

    def _write(self, command: Command) -> None:
        with self.lock:
            self.attempts += 1
            n = self.attempts
            self.threads.add(threading.current_thread().name)
        if n in self.fail_writes or (self.fail_from is not None and n >= self.fail_from):
            raise ConnectionError(f"fake actuator failure on write {n}")
        self.commands.append(Command(command.seq, command.t, command.kind, command.values.copy()))
        if self.on_write is not None:
            self.on_write(self, command)

    @property
    def kinds(self) -> list[str]:
        return [c.kind for c in self.commands]

    def values(self) -> np.ndarray:
        return np.stack([c.values for c in self.commands])
