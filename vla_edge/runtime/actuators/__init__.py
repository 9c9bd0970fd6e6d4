"""Actuators, and `open_actuator(URI)` that picks one from a command-line URI.

URI forms (`--actuator URI`):
    stdout                             JSON lines on stdout
    file:PATH | file://PATH            JSON lines appended to a file
    udp://HOST:PORT[?format=json|binary]   one datagram per command (see actuators/udp.py)
    ros2:///TOPIC[?msg=trajectory|twist]   ROS 2 publisher (rclpy; extra [ros])
    null                               discard (benchmarks)
    sim                                the simulator's robot (with --sim)
Generic sinks take any action space; add `names=a,b,c` to the query to make the loop check
that the policy's action names match the robot's (e.g. udp://10.0.0.2:9870?names=x,y,z,grip).
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

from vla_edge.errors import RuntimeLoopError
from vla_edge.runtime.actuators.base import Actuator, ActuatorSpace, Command
from vla_edge.runtime.actuators.jsonl import FileActuator, NullActuator, StdoutActuator
from vla_edge.runtime.actuators.udp import UdpActuator

__all__ = [
    "Actuator",
    "ActuatorSpace",
    "Command",
    "FileActuator",
    "NullActuator",
    "StdoutActuator",
    "UdpActuator",
    "open_actuator",
]


def open_actuator(uri: str, names: list[str], period_s: float) -> Actuator:
    """An Actuator (not connected yet) for a command-line URI; `names` are the policy's."""
    scheme = uri.split(":", 1)[0] if ":" in uri else uri
    query = parse_qs(urlparse(uri).query)
    if scheme == "stdout":
        act: Actuator = StdoutActuator()
    elif scheme == "null":
        act = NullActuator()
    elif scheme == "file":
        path = uri.split("?", 1)[0].removeprefix("file://").removeprefix("file:")
        if not path:
            raise RuntimeLoopError(f"file actuator needs a path: file:PATH, got {uri!r}")
        act = FileActuator(path)
    elif scheme == "udp":
        act = UdpActuator.from_uri(uri)
    elif scheme == "ros2":
        from vla_edge.runtime.actuators.ros2 import Ros2Actuator

        return Ros2Actuator.from_uri(uri, names, period_s)
    elif scheme == "sim":
        raise RuntimeLoopError("actuator 'sim' needs --sim SUITE:TASK")
    else:
        raise RuntimeLoopError(
            f"unknown actuator {uri!r}; expected stdout, file:PATH, udp://HOST:PORT, "
            "ros2:///TOPIC, null, or sim (with --sim)"
        )
    if "names" in query:
        act.declared = ActuatorSpace(names=query["names"][-1].split(","))
    return act
