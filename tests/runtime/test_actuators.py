import json
import socket

import numpy as np
import pytest

from vla_edge.errors import RuntimeLoopError
from vla_edge.runtime.actuators import (
    FileActuator,
    NullActuator,
    StdoutActuator,
    UdpActuator,
    open_actuator,
)
from vla_edge.runtime.actuators.base import Command
from vla_edge.runtime.actuators.ros2 import Ros2Actuator
from vla_edge.runtime.actuators.udp import HEADER, decode

NAMES = ["x", "y", "z", "grip"]


def cmd(seq=1, kind="action", values=(0.1, -0.2, 0.3, 1.0)):
    return Command(seq=seq, t=12.5, kind=kind, values=np.array(values, np.float32))


@pytest.fixture
def listener():
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(2.0)
    yield sock
    sock.close()


@pytest.mark.parametrize("fmt", ["json", "binary"])
def test_udp_sends_one_well_formed_datagram_per_command(listener, fmt):
    port = listener.getsockname()[1]
    act = open_actuator(f"udp://127.0.0.1:{port}?format={fmt}", NAMES, 0.1)
    act.names = NAMES
    with act:
        for i, kind in enumerate(["action", "hold", "stop"], start=1):
            act.write(cmd(seq=i, kind=kind))
    got = [decode(listener.recv(2048)) for _ in range(3)]
    assert [g["seq"] for g in got] == [1, 2, 3]
    assert [g["kind"] for g in got] == ["action", "hold", "stop"]
    np.testing.assert_allclose(got[0]["action"], [0.1, -0.2, 0.3, 1.0], rtol=1e-6)
    assert got[0]["t"] == pytest.approx(12.5) and got[0]["t_unix"] > 1.6e9


def test_binary_packet_layout(listener):
    port = listener.getsockname()[1]
    with UdpActuator("127.0.0.1", port, fmt="binary") as act:
        act.write(cmd(seq=7, kind="zero"))
    packet = listener.recv(2048)
    assert len(packet) == HEADER.size + 16 and HEADER.size == 32
    assert packet[:4] == b"VLA1" and packet[4] == 1 and packet[5] == 2  # version, kind zero
    assert int.from_bytes(packet[6:8], "little") == 4
    assert int.from_bytes(packet[8:12], "little") == 7


def test_udp_without_listener_counts_refusals_instead_of_failing():
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()  # nobody listens on this port now
    with UdpActuator("127.0.0.1", port) as act:
        for i in range(5):
            act.write(cmd(seq=i))
    assert act.writes == 5 and act.refused >= 1


def test_stdout_and_file_write_json_lines(tmp_path, capsys):
    with StdoutActuator(names=NAMES) as act:
        act.write(cmd())
    line = json.loads(capsys.readouterr().out)
    assert line["names"] == NAMES and line["kind"] == "action" and line["seq"] == 1
    path = tmp_path / "sub" / "log.jsonl"
    with open_actuator(f"file:{path}", NAMES, 0.1) as act:
        act.write(cmd(seq=1))
        act.write(cmd(seq=2, kind="stop"))
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    assert [x["kind"] for x in lines] == ["action", "stop"]


def test_uri_parsing_and_declared_names():
    assert isinstance(open_actuator("null", NAMES, 0.1), NullActuator)
    assert isinstance(open_actuator("file:///tmp/x.jsonl", NAMES, 0.1), FileActuator)
    act = open_actuator("udp://127.0.0.1:9999?names=a,b", NAMES, 0.1)
    assert act.action_space.names == ["a", "b"] and act.action_space.dim == 2
    for bad in ("bogus://x", "udp://nohost", "sim", "file:"):
        with pytest.raises(RuntimeLoopError):
            open_actuator(bad, NAMES, 0.1)


def test_write_before_connect_is_refused():
    with pytest.raises(RuntimeLoopError, match="before connect"):
        NullActuator().write(cmd())


def test_ros2_message_choice_without_rclpy():
    assert Ros2Actuator("/cmd", ["vx", "vy", "wz"]).msg == "twist"
    assert Ros2Actuator("/cmd", NAMES).msg == "trajectory"
    with pytest.raises(RuntimeLoopError, match="Twist"):
        Ros2Actuator("/cmd", NAMES, msg="twist")
    act = open_actuator("ros2:///arm/command?msg=trajectory", NAMES, 0.1)
    assert act.topic == "/arm/command"


def test_ros2_publishes():
    pytest.importorskip("rclpy", reason="rclpy comes from a ROS 2 install; none here")
    with open_actuator("ros2:///vla_edge_test", NAMES, 0.1) as act:
        act.write(cmd())
