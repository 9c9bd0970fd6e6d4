"""The systemd unit `deploy --service` writes: rendered for a robot folder, with the run
arguments quoted for systemd (nothing expanded), and validated by `systemd-analyze verify`
(systemd itself cannot run in CI: no unit is started here)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from vla_edge.deploy.service import ServiceConfig, render_unit, run_argv, systemd_quote
from vla_edge.errors import DeployError


def test_quoting_for_systemd():
    assert systemd_quote("front=0") == "front=0"
    assert (
        systemd_quote("udp://10.0.0.2:9870?format=binary") == '"udp://10.0.0.2:9870?format=binary"'
    )
    assert systemd_quote("pick up the cube") == '"pick up the cube"'
    assert systemd_quote('say "hi" $HOME 50%') == '"say \\"hi\\" $$HOME 50%%"'
    with pytest.raises(DeployError, match="control character"):
        systemd_quote("a\nb")


def test_run_arguments_are_split_not_shell_parsed():
    argv = run_argv(
        "/opt/v e", ServiceConfig(run_args="--camera front=0 --instruction 'pick it; rm -rf /'")
    )
    assert argv[:3] == ["/opt/v e/venv/bin/vla-edge", "run", "/opt/v e/current"]
    assert argv[-2:] == ["--instruction", "pick it; rm -rf /"] and "--rt-priority" in argv
    with pytest.raises(DeployError, match="--run-args"):
        run_argv("/x", ServiceConfig(run_args="--instruction 'unclosed"))


def _robot_folder(tmp_path: Path) -> Path:
    """A robot folder whose venv/bin/vla-edge exists (verify checks ExecStart is executable)."""
    d = tmp_path / "robot dir"
    (d / "venv" / "bin").mkdir(parents=True)
    (d / "venv" / "bin" / "vla-edge").symlink_to(Path(sys.executable).with_name("vla-edge"))
    return d


def test_unit_passes_systemd_analyze_verify(tmp_path):
    tool = shutil.which("systemd-analyze")
    if tool is None:
        pytest.skip("systemd-analyze is not installed (Debian's systemd package has it)")
    d = _robot_folder(tmp_path)
    config = ServiceConfig(
        run_args="--camera front=/dev/video0 --actuator 'udp://10.0.0.2:9870?format=binary' "
        "--instruction 'pick up the 50% cube' --rate 30",
        rt_priority=60,
    )
    unit = tmp_path / "vla-edge.service"
    unit.write_text(render_unit(str(d), "root", config))
    text = unit.read_text()
    for line in (
        "Restart=on-failure",
        "LimitRTPRIO=60",
        "AmbientCapabilities=CAP_SYS_NICE",
        "MemoryMax=75%",
        "LimitMEMLOCK=infinity",
        "KillSignal=SIGTERM",
    ):
        assert line in text
    assert '"pick up the 50%% cube"' in text and "--rt-priority 60" in text
    out = subprocess.run([tool, "verify", str(unit)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    broken = tmp_path / "broken.service"
    broken.write_text(text.replace(str(d), str(tmp_path / "missing")))
    bad = subprocess.run([tool, "verify", str(broken)], capture_output=True, text=True)
    assert bad.returncode != 0 and "not executable" in bad.stderr  # the check can fail


def test_the_unit_template_is_packaged():
    import vla_edge.deploy.service as service

    assert Path(service.__file__).with_name("vla-edge.service.in").is_file()
