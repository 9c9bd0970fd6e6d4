"""`vla-edge run` as a user runs it: a real (tiny, random) bundle, a synthetic or video camera,
UDP out to a listener on 127.0.0.1; Ctrl-C / SIGTERM in a subprocess."""

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
from typer.testing import CliRunner

from vla_edge.cli.main import app
from vla_edge.deps import available
from vla_edge.runtime.actuators.udp import decode

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, ["run", *[str(a) for a in args]])


class Listener:
    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.packets, self.times = [], []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.is_set():
            try:
                data = self.sock.recv(4096)
            except TimeoutError:
                continue
            self.times.append(time.monotonic())
            self.packets.append(decode(data))

    def close(self):
        time.sleep(0.1)
        self._stop.set()
        self._thread.join()
        self.sock.close()


@pytest.fixture
def listener():
    lst = Listener()
    yield lst
    lst.close()


@pytest.fixture(scope="module")
def bundle(tiny_bundle):
    return tiny_bundle("bins")


def test_run_sends_well_formed_binary_commands_at_the_asked_rate(bundle, listener, tmp_path):
    r = invoke(
        bundle,
        "--camera",
        "pattern:96x72@60",
        "--actuator",
        f"udp://127.0.0.1:{listener.port}?format=binary",
        "--instruction",
        "pick",
        "--state",
        "mean",
        "--rate",
        50,
        "--overrun-periods",
        10,  # a warm-up p99 over 60 ms on a loaded machine must not refuse this run
        "--cycles",
        25,
        "--profile",
        tmp_path / "prof",
        "--json",
    )
    assert r.exit_code == 0, r.output
    s = json.loads(r.output)
    listener.close()
    assert s["cycles"] == 25 and s["stop_reason"] == "25 cycles done"
    got = listener.packets
    assert [p["seq"] for p in got] == list(range(1, 27))
    assert [p["kind"] for p in got] == ["action"] * 25 + ["stop"]
    assert all(len(p["action"]) == len(s["policy"]["action_names"]) for p in got)
    sent_span = got[-2]["t"] - got[0]["t"]
    assert sent_span >= 24 / 50 - 0.021  # never faster than 50 Hz (a start can be late, not early)
    for name in ("summary.json", "trace.json", "timeline.png"):
        assert (tmp_path / "prof" / name).stat().st_size > 0


def test_run_from_a_video_file_with_json_udp(bundle, listener, tmp_path):
    cv2 = pytest.importorskip("cv2")
    video = tmp_path / "clip.avi"
    w = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 30, (80, 60))
    for i in range(10):
        w.write(np.full((60, 80, 3), 20 * i, np.uint8))
    w.release()
    r = invoke(
        bundle,
        "--camera",
        f"front={video}",
        "--actuator",
        f"udp://127.0.0.1:{listener.port}",
        "--instruction",
        "push",
        "--state",
        "mean",
        "--rate",
        30,
        "--duration",
        0.5,
        "--chunking",
        "async",
        "--json",
    )
    assert r.exit_code == 0, r.output
    s = json.loads(r.output)
    listener.close()
    assert s["cameras"]["front"].startswith("video")
    assert len(listener.packets) == s["cycles"] + 1 and listener.packets[-1]["kind"] == "stop"
    assert listener.packets[0]["names"] == s["policy"]["action_names"]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--camera", "wrist=pattern"], "needs cameras"),
        (["--camera", "pattern", "--actuator", "udp://127.0.0.1:9?names=a,b"], "mismatch"),
        (["--camera", "pattern", "--chunking", "bogus"], "chunking"),
        ([], "no --camera"),
    ],
)
def test_run_refuses_with_a_message(bundle, args, message):
    if "--actuator" not in args:
        args = ["--actuator", "null", *args]
    r = invoke(bundle, "--instruction", "pick", "--state", "mean", *args)
    assert r.exit_code == 1 and message in r.output, r.output


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signal_stops_cleanly_with_a_final_stop_command(bundle, tmp_path, sig):
    log = tmp_path / "cmds.jsonl"
    cmd = [
        sys.executable,
        "-m",
        "vla_edge.cli.main",
        "run",
        str(bundle),
        "--camera",
        "pattern",
        "--actuator",
        f"file:{log}",
        "--instruction",
        "pick",
        "--state",
        "mean",
        # generous, so that CPU load never faults a cycle (a hold would break the assertion)
        "--rate",
        "10",
        "--stale-ms",
        "2000",
        "--duration",
        "60",
        "--quiet",
    ]
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    try:
        deadline = time.monotonic() + 120
        while not (log.exists() and len(log.read_text().splitlines()) >= 10):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "no commands within 120 s"
            time.sleep(0.05)
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    lines = [json.loads(x) for x in log.read_text().splitlines()]
    assert lines[-1]["kind"] == "stop" and [x["kind"] for x in lines[:-1]] == ["action"] * (
        len(lines) - 1
    )
    assert f"{sig.name} received" in err


@pytest.fixture(scope="module")
def sim_bundle(artifacts):
    """A random tiny policy with the mt10 suite's spec (camera, 21-D state, 4 actions in
    cm/step + effort), exported to a bundle."""
    if not available("metaworld"):  # not importorskip: importing it first breaks MuJoCo's GL
        pytest.skip("the [sim] extra (Meta-World) is not installed")
    from vla_edge.export import ExportConfig, export_checkpoint
    from vla_edge.policy.reference import VlaForActions, preset_config
    from vla_edge.sim.env import suite_spec

    out = artifacts / "bundle-sim-mt10"
    if not out.exists():
        spec = suite_spec("mt10", chunk=4, representation="bins")
        VlaForActions(preset_config("tiny", spec=spec, head="bins")).save_pretrained(
            artifacts / "ck-sim-mt10"
        )
        export_checkpoint(artifacts / "ck-sim-mt10", out, ExportConfig())
    return out


def run_cli(*args) -> subprocess.CompletedProcess:
    """`vla-edge run ...` in its own process (MuJoCo picks its GL backend once per process)."""
    cmd = [sys.executable, "-m", "vla_edge.cli.main", "run", *[str(a) for a in args]]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300)


@pytest.mark.sim
def test_run_closed_loop_on_the_simulator(sim_bundle, tmp_path):
    r = run_cli(
        sim_bundle,
        "--sim",
        "mt10:reach-v3",
        "--rate",
        5,  # generous: under CPU load a faster loop faults a cycle with 'hold'
        "--stale-ms",
        2000,
        "--cycles",
        12,
        "--chunking",
        "async",
        "--profile",
        tmp_path / "p",
        "--json",
    )
    assert r.returncode == 0, r.stderr
    s = json.loads(r.stdout)
    assert s["sim"]["steps"] == 12 and s["actuator"] == "sim robot"
    assert s["state_source"] == "actuator" and s["config"]["instruction"]  # the task's text
    assert s["commands"] == {"action": 12, "stop": 1}


@pytest.mark.sim
def test_sim_refuses_a_policy_for_another_robot(bundle):
    if not available("metaworld"):
        pytest.skip("the [sim] extra (Meta-World) is not installed")
    r = run_cli(bundle, "--sim", "mt10:reach-v3", "--cycles", 3)
    assert r.returncode == 1 and "units differ" in r.stderr, r.stderr
