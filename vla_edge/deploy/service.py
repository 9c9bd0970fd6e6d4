"""The systemd unit that `deploy --service` installs: `vla-edge run DIR/current ...` with a
restart policy, real-time priority and resource limits (template: vla-edge.service.in, built on
jetson/vla-edge.service).

Run arguments come from the user as one string (`--run-args "--camera front=0 ..."`); they are
split like a shell would (shlex) but never run by one: each becomes one systemd argument,
quoted for systemd's own ExecStart parser (`%` and `$` escaped, so nothing is expanded).
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

from vla_edge.errors import DeployError

UNIT = "vla-edge.service"
UNIT_DIR = "/etc/systemd/system"
_PLAIN = re.compile(r"^[A-Za-z0-9_@%+=:,./-]+$")


@dataclass(frozen=True)
class ServiceConfig:
    run_args: str = ""
    rt_priority: int = 50
    memory_max: str = "75%"
    tasks_max: int = 512
    backend: str | None = None  # "trt" when an engine was built on the robot


def run_argv(directory: str, config: ServiceConfig) -> list[str]:
    """The loop's command line (also what a user would type on the robot)."""
    try:
        extra = shlex.split(config.run_args)
    except ValueError as exc:
        raise DeployError(f"--run-args {config.run_args!r}: {exc}") from exc
    argv = [f"{directory}/venv/bin/vla-edge", "run", f"{directory}/current"]
    argv += ["--profile", f"{directory}/profile", "--quiet"]
    if config.rt_priority and "--rt-priority" not in extra:
        argv += ["--rt-priority", str(config.rt_priority)]
    if config.backend and "--backend" not in extra:
        argv += ["--backend", config.backend]
    return argv + extra


def systemd_quote(arg: str) -> str:
    """One argument for ExecStart: specifiers and variables escaped, quoted when needed."""
    if any(ord(c) < 32 for c in arg):
        raise DeployError(f"a run argument holds a control character: {arg!r}")
    arg = arg.replace("%", "%%").replace("$", "$$")
    if _PLAIN.match(arg):
        return arg
    return '"' + arg.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render_unit(directory: str, user: str, config: ServiceConfig) -> str:
    if not 0 <= config.rt_priority <= 99:
        raise DeployError(
            f"--rt-priority must be 0..99 (0: no SCHED_FIFO), got {config.rt_priority}"
        )
    template = Path(__file__).with_name("vla-edge.service.in").read_text()
    return template.format(
        dir=directory.replace("%", "%%"),
        user=user,
        exec_start=" ".join(systemd_quote(a) for a in run_argv(directory, config)),
        rt_priority=max(config.rt_priority, 1),
        memory_max=config.memory_max,
        tasks_max=config.tasks_max,
    )
