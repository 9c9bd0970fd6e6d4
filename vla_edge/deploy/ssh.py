"""SSH to a robot with the system OpenSSH client, always with argument lists.

Why the system `ssh` and not a Python SSH library: the robot is reached exactly as the engineer
reaches it by hand (their ~/.ssh/config, agent, jump hosts, certificates, hardware keys and
known_hosts all apply), OpenSSH is what every robot computer runs on the other side, and the
deploy side needs no cryptography package. Every call is an argument list (no local shell), and
the remote command line is built by `remote_command`, which quotes every argument with
`shlex.quote`, so no user input is ever parsed by a shell. Host keys are checked against
known_hosts (`StrictHostKeyChecking=yes`); a new host key is accepted only with
`accept_new_host_key` (`accept-new`: a *changed* key is still refused). One master connection
per host (ControlMaster) carries every command of a deploy.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from vla_edge.errors import DeployError, SshError

_HOST = re.compile(
    r"^(?:(?P<user>[A-Za-z0-9._][A-Za-z0-9._-]*)@)?(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9][A-Za-z0-9._-]*)(?::(?P<port>\d{1,5}))?$"
)


@dataclass(frozen=True)
class Host:
    """`USER@HOST[:PORT]` (an IPv6 address in brackets: `robot@[fe80::1]:22`)."""

    host: str
    user: str | None = None
    port: int | None = None

    @classmethod
    def parse(cls, text: str) -> Host:
        m = _HOST.match(text.strip())
        if not m:
            raise DeployError(
                f"--host {text!r}: expected USER@HOST[:PORT] (e.g. robot@orin.local:22); a host "
                "starts with a letter or digit and has no spaces"
            )
        port = int(m["port"]) if m["port"] else None
        if port is not None and not 0 < port < 65536:
            raise DeployError(f"--host {text!r}: port must be 1..65535, got {port}")
        return cls(m["host"].strip("[]"), m["user"], port)

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        user = f"{self.user}@" if self.user else ""
        return f"{user}{host}" + (f":{self.port}" if self.port else "")


@dataclass(frozen=True)
class SshOptions:
    identity: Path | None = None
    known_hosts: Path | None = None  # default: the user's own (~/.ssh/known_hosts)
    accept_new_host_key: bool = False
    connect_timeout: int = 10
    ssh_config: Path | None = None


def remote_command(argv: list[str]) -> str:
    """The command line the remote shell runs: every argument quoted, nothing interpolated."""
    return " ".join(shlex.quote(str(a)) for a in argv)


class Connection:
    """One robot: `run(argv)` / `popen(argv)` over a shared master connection."""

    def __init__(self, host: Host, options: SshOptions) -> None:
        self.host, self.options = host, options
        self.ssh = shutil.which("ssh")
        if self.ssh is None:
            raise DeployError("the OpenSSH client `ssh` is not on PATH: install openssh-client")
        self._control = Path(tempfile.mkdtemp(prefix="vla-ssh-"))
        self.notes: list[str] = []

    def base_argv(self) -> list[str]:
        o = self.options
        argv = [self.ssh, "-T", "-o", "BatchMode=yes", "-o", f"ConnectTimeout={o.connect_timeout}"]
        argv += [
            "-o",
            "StrictHostKeyChecking=" + ("accept-new" if o.accept_new_host_key else "yes"),
        ]
        argv += ["-o", "ControlMaster=auto", "-o", f"ControlPath={self._control}/%C"]
        argv += ["-o", "ControlPersist=300", "-o", "ServerAliveInterval=15"]
        if o.ssh_config:
            argv += ["-F", str(o.ssh_config)]
        if o.known_hosts:
            argv += ["-o", f"UserKnownHostsFile={o.known_hosts}"]
        if o.identity:
            argv += ["-i", str(o.identity), "-o", "IdentitiesOnly=yes"]
        if self.host.port:
            argv += ["-p", str(self.host.port)]
        if self.host.user:
            argv += ["-l", self.host.user]
        return [*argv, "--", self.host.host]

    def argv(self, remote: list[str]) -> list[str]:
        return [*self.base_argv(), remote_command(remote)]

    def connect(self) -> None:
        """Log in once (the master connection); a failure is an SshError that says why."""
        if self.options.identity and not Path(self.options.identity).is_file():
            raise SshError(f"--identity {self.options.identity}: no such key file")
        out = subprocess.run(self.argv(["true"]), capture_output=True, text=True, timeout=120)
        added = [ln for ln in out.stderr.splitlines() if "Permanently added" in ln]
        self.notes += [f"new host key accepted (--accept-new-host-key): {ln}" for ln in added]
        if out.returncode != 0:
            raise classify(out.stderr, self.host, self.options)

    def run(
        self, remote: list[str], input: bytes | None = None, check: bool = True, timeout=600
    ) -> subprocess.CompletedProcess:
        out = subprocess.run(self.argv(remote), input=input, capture_output=True, timeout=timeout)
        if out.returncode == 255 and _is_ssh_failure(out.stderr):
            raise classify(out.stderr.decode(errors="replace"), self.host, self.options)
        if check and out.returncode != 0:
            raise DeployError(
                f"{self.host}: `{remote_command(remote)[:160]}` failed (exit {out.returncode}): "
                f"{last_line(out.stderr) or last_line(out.stdout)}"
            )
        return out

    def popen(self, remote: list[str], **kwargs) -> subprocess.Popen:
        return subprocess.Popen(self.argv(remote), **kwargs)

    def close(self) -> None:
        exit_cmd = [*self.base_argv()[:-2], "-O", "exit", "--", self.host.host]
        subprocess.run(exit_cmd, capture_output=True, timeout=30)
        shutil.rmtree(self._control, ignore_errors=True)

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def last_line(data: bytes | str) -> str:
    text = data.decode(errors="replace") if isinstance(data, bytes) else data
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1] if lines else ""


def _is_ssh_failure(stderr: bytes) -> bool:
    text = stderr.decode(errors="replace")
    return any(s in text for s in (*_UNREACHABLE, "Permission denied", "Host key verification"))


_UNREACHABLE = (
    "Connection refused",
    "Connection timed out",
    "No route to host",
    "Could not resolve hostname",
    "Network is unreachable",
    "Connection closed by",
    "Connection reset",
    "kex_exchange_identification",
)


def classify(stderr: str, host: Host, options: SshOptions) -> SshError:
    """OpenSSH's own words -> one line that says what failed and how to fix it."""
    known = options.known_hosts or "~/.ssh/known_hosts"
    if "REMOTE HOST IDENTIFICATION HAS CHANGED" in stderr or "has changed and you have" in stderr:
        return SshError(
            f"{host}: its host key CHANGED from the one in {known}: refusing to connect (a "
            "reinstalled robot, or someone in between); verify the new key and replace the old "
            f"line with `ssh-keygen -f {known} -R HOST` (no flag accepts a changed key)"
        )
    if "Host key verification failed" in stderr:
        return SshError(
            f"{host}: unknown host key (not in {known}): check the robot's fingerprint, then add "
            "it (`ssh-keyscan -p PORT HOST >> known_hosts`) or pass --accept-new-host-key to "
            "trust it on first use"
        )
    if "Permission denied" in stderr:
        key = options.identity or "your default keys / agent"
        return SshError(
            f"{host}: login refused for {key} ({last_line(stderr)}): put the public key in the "
            "robot's ~/.ssh/authorized_keys (`ssh-copy-id`) or pass --identity KEY"
        )
    for marker in _UNREACHABLE:
        if marker in stderr:
            return SshError(
                f"{host}: unreachable ({last_line(stderr)}): check the address, the port and "
                "that the robot is on and runs sshd"
            )
    return SshError(f"{host}: ssh failed: {last_line(stderr) or 'no message'}")
