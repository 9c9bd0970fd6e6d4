"""Actuators that write JSON lines: to stdout, to a file, or nowhere (`null`, for benchmarks).

One line per command: {"seq": 12, "t": 1234.567891, "kind": "action", "action": [...],
"names": [...]} where t is the loop's monotonic clock in seconds, kind is action / hold / zero /
stop, and action holds the values in the policy's physical units, in the order of names.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import IO

from vla_edge.errors import RuntimeLoopError
from vla_edge.runtime.actuators.base import Actuator, Command


class StdoutActuator(Actuator):
    kind = "stdout"

    def __init__(self, names: list[str] | None = None, stream: IO[str] | None = None) -> None:
        super().__init__(names)
        self.stream = stream

    def _write(self, command: Command) -> None:
        out = self.stream or sys.stdout
        out.write(command.to_json(_names_json(self)) + "\n")
        out.flush()


class FileActuator(Actuator):
    """Appends JSON lines to a file (created with its folder; truncated on connect)."""

    kind = "file"

    def __init__(self, path: str | Path, names: list[str] | None = None) -> None:
        super().__init__(names)
        self.path = Path(path)
        self._fh: IO[str] | None = None

    def describe(self) -> str:
        return f"file {self.path}"

    def _connect(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = self.path.open("w", buffering=1)
        except OSError as exc:
            raise RuntimeLoopError(f"cannot open actuator log {self.path}: {exc}") from exc

    def _write(self, command: Command) -> None:
        self._fh.write(command.to_json(_names_json(self)) + "\n")  # type: ignore[union-attr]

    def _close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


class NullActuator(Actuator):
    """Discards commands (keeps only the last one); for benchmarks of the loop itself."""

    kind = "null"

    def __init__(self, names: list[str] | None = None) -> None:
        super().__init__(names)
        self.last: Command | None = None

    def _write(self, command: Command) -> None:
        self.last = command


def _names_json(actuator: Actuator) -> str | None:
    """The actuator's action names as JSON, encoded once."""
    cached = getattr(actuator, "_names_json", None)
    if cached is None and actuator.names is not None:
        cached = actuator._names_json = json.dumps(actuator.names)
    return cached
