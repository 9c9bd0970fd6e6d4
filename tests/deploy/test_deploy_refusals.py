"""What the deploy refuses, and the SSH failures, against the real sshd: each one a clear line,
exit 1, and nothing changed on the robot."""

from __future__ import annotations

import json
import pwd
import subprocess
from pathlib import Path

import pytest

from tests.deploy.helpers import hash_of


def _fails(cli, *args):
    out = cli(*args)
    assert out.returncode == 1, out.stdout[-2000:] + out.stderr[-2000:]
    assert "Traceback" not in out.stderr
    return out


def test_wrong_key_is_refused(cli, robot, tmp_path, tiny_bundle):
    args = robot.args(tmp_path / "r")
    args[args.index("-i") + 1] = str(robot.wrong_key)
    out = _fails(cli, "deploy", str(tiny_bundle("bins")), *args)
    assert "login refused" in out.stdout and not (tmp_path / "r").exists()


def test_unreachable_host(cli, robot, tmp_path, tiny_bundle):
    args = robot.args(tmp_path / "r")
    args[args.index("--host") + 1] = f"{robot.user}@127.0.0.1:1"
    out = _fails(cli, "deploy", str(tiny_bundle("bins")), *args)
    assert "unreachable" in out.stdout and "Connection refused" in out.stdout


def test_unknown_host_key_needs_the_explicit_flag(cli, robot, tmp_path):
    known = tmp_path / "known_hosts"
    known.write_text("")
    args = robot.args(tmp_path / "r")
    args[args.index("--known-hosts") + 1] = str(known)
    out = _fails(cli, "deploy", "status", *args[2:], robot.host)
    assert "unknown host key" in out.stdout and known.read_text() == ""
    ok = cli("deploy", "status", *args[2:], robot.host, "--accept-new-host-key", "--json")
    assert ok.returncode == 0, ok.stderr[-2000:]
    assert known.read_text().strip()  # now known: the next connection checks against it
    assert cli("deploy", "status", *args[2:], robot.host).returncode == 0


def test_a_changed_host_key_is_refused_even_with_the_flag(cli, robot, tmp_path):
    other = tmp_path / "other"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    known = tmp_path / "known_hosts"
    known.write_text(f"[127.0.0.1]:{robot.port} {Path(f'{other}.pub').read_text()}")
    args = robot.args(tmp_path / "r")
    args[args.index("--known-hosts") + 1] = str(known)
    out = _fails(cli, "deploy", "status", *args[2:], robot.host, "--accept-new-host-key")
    assert "CHANGED" in out.stdout


@pytest.fixture
def small_disk(tmp_path):
    mnt = tmp_path / "small"
    mnt.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mnt)]).returncode:
        pytest.skip("cannot mount a small tmpfs here (needs root and mount rights)")
    yield mnt
    subprocess.run(["umount", str(mnt)], check=True)


def test_a_target_whose_disk_is_too_small(cli, robot, small_disk, tiny_bundle):
    out = _fails(
        cli, "deploy", str(tiny_bundle("bins")), *robot.args(small_disk / "vla-edge", "--json")
    )
    res = json.loads(out.stdout)[0]
    assert res["outcome"] == "refused" and "not enough disk" in res["message"]
    assert not (small_disk / "vla-edge" / "bundles").exists()  # nothing copied


@pytest.fixture(scope="module")
def dynamic_int8(tiny_bundle, artifacts):
    """ONNX Runtime-only integer ops (DynamicQuantizeLinear, MatMulInteger): no TensorRT."""
    from vla_edge.compress.quantize import Budget, QuantizeConfig, quantize

    out = artifacts / "deploy-int8-dynamic"
    if not out.exists():
        loose = Budget(spread=1e3)  # a random tiny model misses the default budget
        cfg = QuantizeConfig(precision="int8-dynamic", calib_size=12, holdout=12, budget=loose)
        quantize(tiny_bundle("bins"), out, cfg)
    return out


def test_a_bundle_marked_failed_is_refused_before_copying(cli, robot, tmp_path, tiny_bundle):
    from vla_edge.compress.quantize import Budget, QuantizeConfig, quantize

    budget = Budget(spread=1e-6, identical_bins=1.0)  # no INT8 of a random tiny model meets it
    cfg = QuantizeConfig("int8-dynamic", calib_size=12, holdout=12, budget=budget, keep_failed=True)
    kept = quantize(tiny_bundle("bins"), tmp_path / "kept", cfg)
    res = json.loads(
        _fails(cli, "deploy", str(kept.path), *robot.args(tmp_path / "r", "--json")).stdout
    )[0]
    assert res["outcome"] == "refused"
    assert any("marked failed (quantize: " in r for r in res["reasons"]), res["reasons"]
    assert not (tmp_path / "r" / "bundles").exists()  # nothing copied


def test_a_bundle_that_fails_check_for_the_target(cli, robot, tmp_path, dynamic_int8):
    args = robot.args(tmp_path / "r", "--device", "orin-nano", "--json")
    res = json.loads(_fails(cli, "deploy", str(dynamic_int8), *args).stdout)[0]
    assert res["outcome"] == "refused" and res["target"]["profile"] == "orin-nano-8gb"
    assert any("MatMulInteger" in r for r in res["reasons"]), res["reasons"]
    assert not (tmp_path / "r" / "bundles").exists()


def test_build_without_tensorrt_and_service_without_systemd_are_refused(
    cli, robot, tmp_path, tiny_bundle
):
    out = _fails(
        cli, "deploy", str(tiny_bundle("bins")), *robot.args(tmp_path / "r", "--build", "--service")
    )
    assert "has no TensorRT" in out.stdout and "runs no systemd" in out.stdout
    assert not (tmp_path / "r" / "bundles").exists()


def test_remote_arguments_are_quoted_never_interpreted(cli, robot, tmp_path, tiny_bundle):
    """A --dir with spaces, quotes and $(...) reaches the robot as one literal path."""
    weird = tmp_path / "a b'c;$(touch PWNED)"
    out = _fails(cli, "deploy", str(tiny_bundle("bins")), *robot.args(weird, "--build", "--json"))
    res = json.loads(out.stdout)[0]
    assert res["outcome"] == "refused" and weird.is_dir()  # the lock file is in the literal dir
    assert not list(tmp_path.rglob("PWNED")) and not (robot.home / "PWNED").exists()
    assert not (Path(pwd.getpwnam(robot.user).pw_dir) / "PWNED").exists()  # the login's cwd
    assert hash_of(tiny_bundle("bins")) == res["version"]
