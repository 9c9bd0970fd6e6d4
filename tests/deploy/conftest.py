"""A real robot for the deploy tests: Debian's OpenSSH server on 127.0.0.1, started here with a
generated host key, a generated client key and a temporary home (HOME of the login), and the
machine's system Python (/usr/bin/python3) as the robot's Python. Not a mock: every deploy goes
through `ssh` to this sshd and runs the agent, pip and vla-edge on the other side.

.ci/run installs openssh-server; under CI a missing sshd fails instead of skipping.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

SSHD = shutil.which("sshd") or "/usr/sbin/sshd"
# the robot's Python: the system one (as on a Jetson), else the interpreter under this venv
ROBOT_PYTHON = next(
    (
        p
        for p in ("/usr/bin/python3", str(Path(sys.base_prefix) / "bin" / "python3"))
        if Path(p).is_file()
    ),
    "python3",
)


@dataclass
class Robot:
    port: int
    root: Path  # everything of this server (keys, known_hosts, home)
    home: Path
    key: Path
    wrong_key: Path
    known_hosts: Path
    user: str

    @property
    def host(self) -> str:
        return f"{self.user}@127.0.0.1:{self.port}"

    def args(self, directory: Path | str, *extra: str) -> list[str]:
        """CLI options that reach this robot, its key and known_hosts, and its Python."""
        return [
            "--host",
            self.host,
            "-i",
            str(self.key),
            "--known-hosts",
            str(self.known_hosts),
            "--dir",
            str(directory),
            "--python",
            ROBOT_PYTHON,
            *extra,
        ]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _keygen(path: Path) -> Path:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)
    return path


def _wait_listening(port: int, proc: subprocess.Popen, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"sshd exited: {proc.stderr.read().decode()[-2000:]}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError("sshd did not listen in time")


def _need_sshd() -> None:
    why = None
    if not Path(SSHD).is_file():
        why = "openssh-server is not installed (`apt-get install openssh-server`; .ci/run does)"
    elif os.geteuid() != 0:
        why = "the test sshd runs as root (it logs the test user in); run the tests as root"
    if why and os.environ.get("CI"):
        pytest.fail(f"deploy tests cannot run in CI: {why}")
    if why:
        pytest.skip(why)


@pytest.fixture(scope="session")
def robot(tmp_path_factory):
    _need_sshd()
    root = tmp_path_factory.mktemp("robot")
    home = root / "home"
    home.mkdir()
    host_key, key, wrong = _keygen(root / "host_key"), _keygen(root / "id"), _keygen(root / "wrong")
    (root / "authorized_keys").write_text(Path(f"{key}.pub").read_text())
    port = _free_port()
    Path("/run/sshd").mkdir(parents=True, exist_ok=True)
    opts = {
        "Port": port,
        "ListenAddress": "127.0.0.1",
        "HostKey": host_key,
        "AuthorizedKeysFile": root / "authorized_keys",
        "StrictModes": "no",
        "UsePAM": "no",
        "PasswordAuthentication": "no",
        "KbdInteractiveAuthentication": "no",
        "PermitRootLogin": "prohibit-password",
        "PidFile": "none",
        "MaxStartups": "100",
        "MaxSessions": "100",
        "SetEnv": f"HOME={home}",
    }
    argv = [SSHD, "-D", "-e", "-f", "/dev/null"]
    for k, v in opts.items():
        argv += ["-o", f"{k}={v}"]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _wait_listening(port, proc)
        known = root / "known_hosts"
        known.write_text(f"[127.0.0.1]:{port} {Path(f'{host_key}.pub').read_text()}")
        user = pwd.getpwuid(os.geteuid()).pw_name
        yield Robot(port, root, home, key, wrong, known, user)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture(scope="session")
def deploy_cache(tmp_path_factory):
    """One runtime wheel and wheelhouse for the whole session (XDG_CACHE_HOME of the CLI)."""
    return tmp_path_factory.mktemp("deploy-cache")


@pytest.fixture(scope="session")
def cli(deploy_cache):
    """Run `vla-edge ARGS` as a user would (a subprocess), with the session's cache."""

    def run(*args: str, timeout: float = 900, **kw) -> subprocess.CompletedProcess:
        env = {**os.environ, "XDG_CACHE_HOME": str(deploy_cache), **kw.pop("env", {})}
        cmd = [sys.executable, "-m", "vla_edge.cli.main", *args]
        return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout, **kw)

    return run
