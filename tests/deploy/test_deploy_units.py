"""The deploy's pieces without a robot: host parsing, remote quoting, SSH error wording, the
device profile of a probed target, hosts files, pip platform options, and the agent's file
operations run here on a temporary folder."""

from __future__ import annotations

import json
import shlex

import pytest

from vla_edge.deploy import agent
from vla_edge.deploy.hosts import read_hosts_file
from vla_edge.deploy.probe import device_profile, preflight
from vla_edge.deploy.runtime import _platform_args
from vla_edge.deploy.ssh import Host, SshOptions, classify, remote_command
from vla_edge.errors import DeployError


def test_host_parsing():
    assert Host.parse("robot@orin.local:2222") == Host("orin.local", "robot", 2222)
    assert Host.parse("10.0.0.5") == Host("10.0.0.5")
    assert str(Host.parse("me@[fe80::1]:22")) == "me@[fe80::1]:22"
    for bad in ("-oProxyCommand=x", "a b", "robot@host:99999", "robot@;rm", ""):
        with pytest.raises(DeployError, match="--host"):
            Host.parse(bad)


def test_remote_command_quotes_every_argument():
    argv = ["python3", "-c", "print('x')", "/a b/$(touch y)", "c;d", "`e`"]
    line = remote_command(argv)
    assert shlex.split(line) == argv  # what the remote shell sees: the same words, literally


def test_ssh_failures_say_what_to_do():
    o = SshOptions(known_hosts="kh")
    h = Host("r", "u", 22)
    assert "unknown host key" in str(classify("Host key verification failed.", h, o))
    assert "--accept-new-host-key" in str(classify("Host key verification failed.", h, o))
    changed = "WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!\nHost key verification failed."
    assert "CHANGED" in str(classify(changed, h, o))
    assert "login refused" in str(classify("u@r: Permission denied (publickey).", h, o))
    assert "unreachable" in str(classify("connect to host r port 22: Connection refused", h, o))


@pytest.mark.parametrize(
    ("model", "mem_mb", "profile"),
    [
        ("NVIDIA Jetson AGX Orin Developer Kit", 62000, "orin-agx-64gb"),
        ("NVIDIA Jetson AGX Orin", 30000, "orin-agx-32gb"),
        ("NVIDIA Jetson Orin NX Engineering Reference Developer Kit", 15400, "orin-nx-16gb"),
        ("NVIDIA Jetson Orin Nano Developer Kit", 7600, "orin-nano-8gb"),
        ("NVIDIA Jetson Orin Nano", 3600, "orin-nano-4gb"),
    ],
)
def test_jetson_models_map_to_their_profiles(model, mem_mb, profile):
    info = {"jetson_model": model, "memory": {"total_mb": mem_mb, "available_mb": mem_mb // 2}}
    assert device_profile(info).name == profile


def test_a_cpu_host_gets_its_probed_memory():
    p = device_profile(
        {"arch": "x86_64", "os": "Debian", "memory": {"total_mb": 8192, "available_mb": 2048}}
    )
    assert p.kind == "host" and p.usable_memory_gb == pytest.approx(2.0)
    assert device_profile({"tensorrt": "10.3.0"}).name == "cuda"
    assert device_profile({}, override="orin-nx").name == "orin-nx-16gb"


def test_preflight_collects_every_reason():
    class Opts:
        build, service = True, True

    info = {
        "python": "3.8.10",
        "venv_ok": False,
        "_needs_runtime": True,
        "_host": "r",
        "disk": {"path": "/", "free_mb": 10},
        "tensorrt": None,
        "systemd": False,
    }
    reasons = preflight(info, Opts, need_mb=100)
    assert len(reasons) == 5, reasons
    assert any("python3-venv" in r for r in reasons) and any(">= 3.10" in r for r in reasons)


def test_hosts_file(tmp_path):
    f = tmp_path / "fleet"
    f.write_text('# robots\nrobot@a:22 dir="/opt/robot one"\n\nb  # no dir\n')
    assert read_hosts_file(f) == [(Host("a", "robot", 22), "/opt/robot one"), (Host("b"), None)]
    f.write_text("robot@a rm=-rf\n")
    with pytest.raises(DeployError, match=r"fleet:1: expected"):
        read_hosts_file(f)


def test_wheels_for_a_jetson_are_fetched_for_its_platform():
    args = _platform_args({"arch": "aarch64", "python": "3.10.12", "glibc": "2.35"})
    assert args[args.index("--python-version") + 1] == "3.10" and "--only-binary=:all:" in args
    plats = [args[i + 1] for i, a in enumerate(args) if a == "--platform"]
    assert "manylinux_2_35_aarch64" in plats and "manylinux2014_aarch64" in plats


def _call(capsys, op, *args):
    agent.OPS[op](*map(str, args))
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_agent_resumes_links_and_switches(tmp_path, capsys, monkeypatch):
    import io

    d = tmp_path / "robot"
    bundles = d / "bundles" / "h1"
    bundles.mkdir(parents=True)
    (bundles / "a.onnx").write_bytes(b"0123456789")
    (bundles / "manifest.json").write_text(
        json.dumps({"files": {"a.onnx": {"sha256": "s1", "size": 10}}})
    )
    stage = d / "bundles" / ".partial-h2"
    stage.mkdir()
    (stage / "b.onnx").write_bytes(b"xyz")  # 3 of 6 bytes of an interrupted copy
    files = [["a.onnx", "s1", 10], ["b.onnx", "s2", 6], ["manifest.json", "s3", 50]]
    got = _call(capsys, "offsets", stage, json.dumps(files), d / "bundles")
    assert got == {"offsets": {"a.onnx": 10, "b.onnx": 3, "manifest.json": 0}, "reused_bytes": 10}
    assert (stage / "a.onnx").stat().st_ino == (bundles / "a.onnx").stat().st_ino  # hard link
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b"uvw")))
    assert _call(capsys, "append", stage / "b.onnx", 3) == {"size": 6}
    with pytest.raises(SystemExit):  # a wrong offset is refused, never glued on
        _call(capsys, "append", stage / "b.onnx", 2)
    assert _call(capsys, "switch", d, "h1", "one") == {"previous": None, "current": "h1"}
    assert (d / "current").is_symlink() and _call(capsys, "previous", d)["previous"] is None
    with pytest.raises(SystemExit):
        _call(capsys, "switch", d, "nope", "x")
    with pytest.raises(SystemExit):
        _call(capsys, "offsets", stage, json.dumps([["../../etc/x", "s", 1]]), "-")
