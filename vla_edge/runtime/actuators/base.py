"""The Actuator base class and the command it writes.

An actuator is connected once, written once per control cycle, and closed. Each write carries
a Command: a sequence number, the loop's monotonic time of the write, the kind of command and
the action values in the policy's physical units.

Kinds: "action" (from the policy), "hold" (repeat the last safe command after a fault),
"zero" (all-zero action after a fault, clamped into the limits), "stop" (the last command of a
run, or of a fault under `--on-fault stop`; its values are the hold values, or zeros under
`--on-fault zero`; a receiver should stop the robot when it sees it).
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np

from vla_edge.errors import RuntimeLoopError

KINDS = ("action", "hold", "zero", "stop")


@dataclass
class Command:
    seq: int
    t: float  # time.monotonic() of the write
    kind: str
    values: np.ndarray  # float32 [action_dim], physical units

    def to_json(self, names_json: str | None = None, **extra: float) -> str:
        """The command as one JSON object, formatted by hand: json.dumps costs ~100 us right
        after a sleep on a busy machine, this a fraction of it. Values are always finite (the
        loop never sends NaN/inf). `names_json` is the pre-encoded JSON list of names."""
        action = ", ".join([repr(round(v, 6)) for v in self.values.tolist()])
        out = f'{{"seq": {self.seq}, "t": {self.t:.6f}, "kind": "{self.kind}", "action": [{action}]'
        if names_json is not None:
            out += f', "names": {names_json}'
        for key, value in extra.items():
            out += f', "{key}": {value:.6f}'
        return out + "}"

    def to_dict(self, names: list[str] | None = None) -> dict:
        out = {"seq": self.seq, "t": round(self.t, 6), "kind": self.kind}
        out["action"] = [round(v, 6) for v in self.values.tolist()]
        if names is not None:
            out["names"] = names
        return out


@dataclass
class ActuatorSpace:
    """What an actuator accepts. None means "anything": a generic sink (stdout, UDP, file)
    accepts any action space unless the user names one in its URI (`?names=x,y,z`)."""

    dim: int | None = None
    names: list[str] | None = None
    units: list[str] | None = None
    low: list[float] | None = None
    high: list[float] | None = None

    def __post_init__(self) -> None:
        sizes = {len(v) for v in (self.names, self.units, self.low, self.high) if v is not None}
        if self.dim is not None:
            sizes.add(self.dim)
        if len(sizes) > 1:
            raise RuntimeLoopError(
                f"actuator action space is inconsistent: dim={self.dim}, names={self.names}, "
                f"units={self.units}, low={self.low}, high={self.high} have different lengths"
            )
        if self.dim is None and sizes:
            self.dim = sizes.pop()


class Actuator(ABC):
    """connect / write / close. Subclasses implement `_connect`, `_write`, `_close`."""

    kind = "actuator"

    def __init__(self, names: list[str] | None = None) -> None:
        self.names = names  # the policy's action names, set by the loop for self-describing sinks
        self.connected = False
        self.writes = 0
        self.finished: str | None = None  # set (with the reason) when the robot ends the run
        self.declared: ActuatorSpace | None = None  # what the user said the robot takes

    @property
    def action_space(self) -> ActuatorSpace:
        return self.declared or ActuatorSpace()

    def connect(self) -> Actuator:
        if not self.connected:
            self._connect()
            self.connected = True
        return self

    def write(self, command: Command) -> None:
        if not self.connected:
            raise RuntimeLoopError(f"{self.kind} actuator written before connect()")
        self._write(command)
        self.writes += 1

    def close(self) -> None:
        if self.connected:
            self.connected = False
            self._close()

    def state(self) -> np.ndarray | None:
        """The robot's proprioceptive state, when the actuator can read it; None otherwise."""
        return None

    def describe(self) -> str:
        return self.kind

    def __enter__(self) -> Actuator:
        return self.connect()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _connect(self) -> None:  # noqa: B027 - optional hook
        pass

    @abstractmethod
    def _write(self, command: Command) -> None: ...

    def _close(self) -> None:  # noqa: B027 - optional hook
        pass


def make_command(seq: int, kind: str, values: np.ndarray) -> Command:
    return Command(seq=seq, t=time.monotonic(), kind=kind, values=values)
