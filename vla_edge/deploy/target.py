"""The robot, as the deploy sees it: the agent's operations over one SSH connection.

Every operation runs `python3 -c <agent.py> OP ARGS...` with each argument quoted (see ssh.py);
the agent answers with one JSON line. After the runtime is installed, `vla(...)` runs the
robot's own `DIR/venv/bin/vla-edge`.
"""

from __future__ import annotations

import json
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

from vla_edge.deploy.ssh import Connection, last_line
from vla_edge.errors import DeployError


@cache
def agent_source() -> str:
    """agent_facts.py then agent.py: one program for `python3 -c` on the robot."""
    here = Path(__file__).parent
    return (here / "agent_facts.py").read_text() + "\n" + (here / "agent.py").read_text()


class Target:
    def __init__(self, conn: Connection, directory: str, python: str = "python3") -> None:
        self.conn, self.dir, self.python = conn, directory, python
        self._lock: subprocess.Popen | None = None

    @property
    def host(self) -> str:
        return str(self.conn.host)

    def agent_argv(self, op: str, *args: Any) -> list[str]:
        return [self.python, "-c", agent_source(), op, *(str(a) for a in args)]

    def call(self, op: str, *args: Any, input: bytes | None = None) -> dict[str, Any]:
        out = self.conn.run(self.agent_argv(op, *args), input=input, check=False)
        if out.returncode == 127:
            raise DeployError(
                f"{self.host}: `{self.python}` was not found there: install Python >= 3.10"
            )
        return parse(out, f"{self.host}: {op}")

    # --- the deploy lock: held while a process on the robot reads our stdin ----------------
    def lock(self, wait_s: float = 20) -> None:
        proc = self.conn.popen(
            self.agent_argv("lock", self.dir, wait_s),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        line = proc.stdout.readline().decode(errors="replace")
        try:
            answer = json.loads(line)
        except json.JSONDecodeError:
            proc.kill()
            err = proc.stderr.read().decode(errors="replace")
            raise DeployError(
                f"{self.host}: could not take the deploy lock: {last_line(err)}"
            ) from None
        if not answer.get("locked"):
            proc.wait()
            raise DeployError(
                f"{self.host}: another deploy to {self.dir} is running ({answer.get('holder')}); "
                "wait for it to end"
            )
        self._lock = proc

    def unlock(self) -> None:
        if self._lock is not None:
            self._lock.stdin.close()
            try:
                self._lock.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._lock.kill()
            self._lock = None

    # --- the runtime on the robot -----------------------------------------------------------
    def venv_bin(self, name: str) -> str:
        return f"{self.dir}/venv/bin/{name}"

    def vla(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
        """`DIR/venv/bin/vla-edge ARGS` on the robot (not checked: the caller reads the result)."""
        return self.conn.run([self.venv_bin("vla-edge"), *args], check=False, timeout=timeout)

    def sudo(self, argv: list[str], root: bool) -> list[str]:
        return argv if root else ["sudo", "-n", *argv]


def parse(out: subprocess.CompletedProcess, what: str) -> dict[str, Any]:
    """The agent's JSON answer; its {"error": ...} or a crash becomes a DeployError."""
    text = out.stdout.decode(errors="replace") if isinstance(out.stdout, bytes) else out.stdout
    lines = [ln for ln in text.strip().splitlines() if ln.startswith("{")]
    try:
        answer = json.loads(lines[-1]) if lines else None
    except json.JSONDecodeError:
        answer = None
    if answer is None:
        raise DeployError(f"{what} failed (exit {out.returncode}): {last_line(out.stderr)}")
    if "error" in answer:
        raise DeployError(f"{what}: {answer['error']}")
    return answer
