"""Deploy onto a real sshd on 127.0.0.1 (tests/deploy/conftest.py) and check what is on the robot
after each step: a first deploy (runtime installed from copied wheels), a no-op redeploy, a
second version, rollback, a failing health check that rolls back by itself, an interrupted copy
that the next deploy resumes, pruning, status with the last loop summary, and many hosts at once.

The steps build on each other (one robot folder, one runtime install), in file order."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.deploy.conftest import ROBOT_PYTHON
from tests.deploy.helpers import hash_of, variant, wrong_camera_size
from vla_edge.bundle import Bundle

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def robot_dir(robot):
    return robot.home / "vla-edge"


@pytest.fixture(scope="module")
def versions(tiny_bundle, artifacts):
    v1 = Path(tiny_bundle("bins"))
    return {
        "v1": v1,
        "v2": Path(tiny_bundle("continuous")),
        "v3": Path(tiny_bundle("flow")),
        # same graph files as v1 (so they are hard-linked on the robot, not sent) + a wrong spec
        "bad": variant(v1, artifacts / "deploy-bad", edit=wrong_camera_size),
    }


def _deploy(cli, robot, directory, bundle, *extra, check=True):
    out = cli("deploy", str(bundle), *robot.args(directory, "--json", *extra))
    if check:
        assert out.returncode == 0, out.stderr[-3000:] + out.stdout[-3000:]
    return json.loads(out.stdout)[0] if out.stdout.strip().startswith("[") else out


def _active(directory: Path) -> str | None:
    link = directory / "current"
    return os.readlink(link).split("/")[-1] if link.is_symlink() else None


def test_first_deploy_installs_the_runtime_and_activates(cli, robot, robot_dir, versions):
    res = _deploy(cli, robot, "vla-edge", versions["v1"])  # relative: inside the robot's HOME
    digest = hash_of(versions["v1"])
    assert res["outcome"] == "deployed" and res["active"] == digest and res["previous"] is None
    assert res["runtime"]["version"].startswith("vla-edge ") and res["runtime"]["copied"]["sent"]
    assert res["copy"]["sent"] == res["copy"]["total"] > 0 and res["copy"]["resumed"] == 0
    assert res["target"]["profile"] == "host" and res["target"]["python"]
    assert [c["name"] for c in res["health"]["checks"]] == ["predict --example"]
    assert _active(robot_dir) == digest
    Bundle.load(robot_dir / "current")  # every sha256 matches on the robot
    venv = (robot_dir / "venv").resolve()
    assert (venv / "bin" / "vla-edge").exists() and venv.parent.name == "runtimes"
    found = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import torch"], capture_output=True
    )
    assert found.returncode != 0  # the robot's runtime has no torch


def test_redeploy_of_the_same_hash_is_a_noop(cli, robot, robot_dir, versions):
    history = (robot_dir / "history.json").read_text()
    res = _deploy(cli, robot, "vla-edge", versions["v1"])
    assert res["outcome"] == "unchanged" and res["copy"] == {} and "nothing to do" in res["message"]
    assert (robot_dir / "history.json").read_text() == history


def test_a_second_version_keeps_the_first(cli, robot, robot_dir, versions):
    res = _deploy(cli, robot, "vla-edge", versions["v2"])
    assert res["outcome"] == "deployed" and res["runtime"] is None  # runtime already there
    assert res["previous"] == hash_of(versions["v1"]) and _active(robot_dir) == hash_of(
        versions["v2"]
    )
    assert (robot_dir / "bundles" / hash_of(versions["v1"])).is_dir()


def test_rollback_switches_back_and_checks_health(cli, robot, robot_dir, versions):
    out = cli("deploy", "rollback", *robot.args("vla-edge", "--json")[2:], robot.host)
    assert out.returncode == 0, out.stderr[-3000:]
    res = json.loads(out.stdout)[0]
    assert res["outcome"] == "rolled-back" and res["health"]["ok"]
    assert _active(robot_dir) == hash_of(versions["v1"])
    out = cli("deploy", "rollback", *robot.args("vla-edge", "--json")[2:], robot.host)
    assert out.returncode == 0 and _active(robot_dir) == hash_of(versions["v2"])


def test_a_failing_health_check_rolls_back_by_itself(cli, robot, robot_dir, versions):
    before = _active(robot_dir)
    out = _deploy(cli, robot, "vla-edge", versions["bad"], check=False)
    assert out["outcome"] == "rolled-back" and not out["ok"], out
    assert (
        "health check failed" in out["message"]
        and f"rolled back to {before[:12]}" in out["message"]
    )
    assert _active(robot_dir) == before  # the previous version is active again
    assert out["copy"]["reused"] > 0 and out["copy"]["sent"] < out["copy"]["total"]  # linked
    Bundle.load(robot_dir / "current")


def _partial(robot_dir: Path, digest: str) -> Path:
    return robot_dir / "bundles" / f".partial-{digest}"


def test_an_interrupted_copy_leaves_the_previous_version_and_resumes(
    cli, robot, robot_dir, versions, deploy_cache
):
    before, digest = _active(robot_dir), hash_of(versions["v3"])
    args = ["deploy", str(versions["v3"]), *robot.args("vla-edge", "--limit-rate", "0.1", "--json")]
    env = {**os.environ, "XDG_CACHE_HOME": str(deploy_cache)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "vla_edge.cli.main", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    deadline = time.monotonic() + 300
    try:
        while True:  # kill it once some bytes of a graph are on the robot
            got = sum(f.stat().st_size for f in _partial(robot_dir, digest).rglob("*.onnx"))
            if got > 64 * 1024:
                break
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the copy did not start"
            time.sleep(0.05)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert _active(robot_dir) == before
    Bundle.load(robot_dir / "current")  # intact
    assert not (robot_dir / "bundles" / digest).exists() and _partial(robot_dir, digest).is_dir()
    res = _deploy(cli, robot, "vla-edge", versions["v3"])
    assert res["outcome"] == "deployed" and res["copy"]["resumed"] > 64 * 1024, res["copy"]
    assert res["copy"]["sent"] + res["copy"]["resumed"] == res["copy"]["total"]
    assert _active(robot_dir) == digest and not _partial(robot_dir, digest).exists()


def test_keep_prunes_older_versions(cli, robot, robot_dir, versions):
    res = _deploy(cli, robot, "vla-edge", versions["v1"], "--keep", "2")
    kept = sorted(p.name for p in (robot_dir / "bundles").iterdir())
    assert sorted([hash_of(versions["v1"]), hash_of(versions["v3"])]) == kept, res["pruned"]
    assert hash_of(versions["v2"]) in res["pruned"]


def test_status_lists_versions_runtime_service_and_the_last_loop(cli, robot, robot_dir, versions):
    vla = str(robot_dir / "venv" / "bin" / "vla-edge")
    loop = [
        vla,
        "run",
        str(robot_dir / "current"),
        "--camera",
        "front=pattern:64x64",
        "--actuator",
        "null",
        "--instruction",
        "open the drawer",
        "--state",
        "mean",
        "--cycles",
        "5",
        "--profile",
        str(robot_dir / "profile"),
        "--quiet",
    ]
    assert subprocess.run(loop, capture_output=True).returncode == 0  # what the service runs
    out = cli("deploy", "status", robot.host, *robot.args("vla-edge", "--json")[2:])
    assert out.returncode == 0, out.stderr[-2000:]
    st = json.loads(out.stdout)[0]
    assert st["current"] == hash_of(versions["v1"]) and len(st["versions"]) == 2
    assert st["runtime"]["ok"] and st["service"]["state"] == "no systemd on this machine"
    assert st["last_loop"]["cycles"] == 5
    text = cli("deploy", "status", robot.host, *robot.args("vla-edge")[2:])
    assert f"* {hash_of(versions['v1'])[:12]}" in text.stdout and "cycles 5" in text.stdout


def test_many_hosts_in_parallel_one_failing(cli, robot, tmp_path, versions):
    other = tmp_path / "robot two"
    hosts = tmp_path / "fleet.txt"
    hosts.write_text(
        f"# the fleet\n{robot.host} dir={robot.home / 'vla-edge'}\n"
        f"{robot.host} dir='{other}'\n{robot.user}@127.0.0.1:1\n"
    )
    args = [
        "--hosts-file",
        str(hosts),
        "-i",
        str(robot.key),
        "--known-hosts",
        str(robot.known_hosts),
        "--python",
        ROBOT_PYTHON,
        "--json",
    ]
    out = cli("deploy", str(versions["v2"]), *args)
    assert out.returncode == 1 and out.stdout, out.stderr[-3000:]
    results = json.loads(out.stdout)
    assert [r["outcome"] for r in results] == ["deployed", "deployed", "failed"], results
    assert "unreachable" in results[2]["message"]
    assert _active(other) == _active(robot.home / "vla-edge") == hash_of(versions["v2"])
