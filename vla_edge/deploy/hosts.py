"""Which robots a command is for: `--host` (repeatable), positional hosts (`status`,
`rollback`), and hosts files: one `USER@HOST[:PORT] [dir=PATH]` per line, `#` comments, a
path with spaces in quotes (`dir="/opt/robot one"`)."""

from __future__ import annotations

import shlex
from pathlib import Path

from vla_edge.deploy.ssh import Host
from vla_edge.errors import DeployError

Entry = tuple[Host, str | None]  # a robot and its own --dir (None: the command's)


def read_hosts_file(path: Path) -> list[Entry]:
    if not Path(path).is_file():
        raise DeployError(f"--hosts-file {path}: no such file")
    entries = []
    for n, raw in enumerate(Path(path).read_text().splitlines(), 1):
        try:
            words = shlex.split(raw, comments=True)
        except ValueError as exc:
            raise DeployError(f"{path}:{n}: {exc}: {raw.strip()!r}") from exc
        if not words:
            continue
        first, *rest = words
        directory = None
        for field in rest:
            key, sep, value = field.partition("=")
            if key != "dir" or not sep or not value:
                raise DeployError(
                    f"{path}:{n}: expected `USER@HOST[:PORT] [dir=PATH]`, got {raw.strip()!r}"
                )
            directory = value
        entries.append((Host.parse(first), directory))
    if not entries:
        raise DeployError(f"--hosts-file {path} lists no hosts")
    return entries


def collect(hosts: list[str], hosts_file: Path | None) -> list[Entry]:
    entries = [(Host.parse(h), None) for h in hosts]
    if hosts_file is not None:
        entries += read_hosts_file(hosts_file)
    if not entries:
        raise DeployError(
            "no robot given: pass --host USER@HOST[:PORT] (repeatable) or --hosts-file FILE"
        )
    return entries
