"""ROS 2 actuator: `ros2:///TOPIC?msg=trajectory|twist` (rclpy from a ROS 2 install; extra [ros]).

- `trajectory` publishes trajectory_msgs/JointTrajectory with joint_names = the policy's action
  names and one point (positions = the action, time_from_start = one control period).
- `twist` publishes geometry_msgs/Twist; the action names must be among linear_x..angular_z
  (or vx, vy, vz, wx, wy, wz). A stop command publishes an all-zero Twist.
Without `msg=`, twist is chosen when every action name is a twist axis, else trajectory.
rclpy is imported on connect only.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

from vla_edge.deps import require
from vla_edge.errors import RuntimeLoopError
from vla_edge.runtime.actuators.base import Actuator, Command

TWIST_AXES = {
    "linear_x": ("linear", "x"),
    "linear_y": ("linear", "y"),
    "linear_z": ("linear", "z"),
    "angular_x": ("angular", "x"),
    "angular_y": ("angular", "y"),
    "angular_z": ("angular", "z"),
    "vx": ("linear", "x"),
    "vy": ("linear", "y"),
    "vz": ("linear", "z"),
    "wx": ("angular", "x"),
    "wy": ("angular", "y"),
    "wz": ("angular", "z"),
}


class Ros2Actuator(Actuator):
    kind = "ros2"

    def __init__(
        self, topic: str, names: list[str], msg: str | None = None, period_s: float = 0.1
    ) -> None:
        super().__init__(names)
        if msg is None:
            msg = "twist" if names and all(n in TWIST_AXES for n in names) else "trajectory"
        if msg not in ("trajectory", "twist"):
            raise RuntimeLoopError(f"ros2 msg must be 'trajectory' or 'twist', got {msg!r}")
        if msg == "twist" and not all(n in TWIST_AXES for n in names):
            bad = [n for n in names if n not in TWIST_AXES]
            raise RuntimeLoopError(
                f"a Twist actuator needs action names among {sorted(TWIST_AXES)}; {bad} are not"
            )
        self.topic, self.msg, self.period_s = topic, msg, period_s
        self._node = self._pub = self._rclpy = None

    @classmethod
    def from_uri(cls, uri: str, names: list[str], period_s: float) -> Ros2Actuator:
        parsed = urlparse(uri)
        topic = (parsed.netloc + parsed.path) or "/vla_edge/command"
        msg = parse_qs(parsed.query).get("msg", [None])[0]
        return cls("/" + topic.lstrip("/"), names, msg=msg, period_s=period_s)

    def describe(self) -> str:
        return f"ros2 {self.topic} ({self.msg})"

    def _connect(self) -> None:
        rclpy = require("rclpy", extra="ros", purpose="publish commands on ROS 2")
        if not rclpy.ok():
            rclpy.init()
        self._rclpy = rclpy
        self._node = rclpy.create_node("vla_edge_run")
        self._pub = self._node.create_publisher(self._msg_type(), self.topic, 10)

    def _msg_type(self):
        if self.msg == "twist":
            return require("geometry_msgs.msg", extra="ros").Twist
        return require("trajectory_msgs.msg", extra="ros").JointTrajectory

    def _write(self, command: Command) -> None:
        self._pub.publish(self._twist(command) if self.msg == "twist" else self._traj(command))

    def _twist(self, command: Command):
        msg = require("geometry_msgs.msg", extra="ros").Twist()
        if command.kind != "stop":
            for name, value in zip(self.names, command.values, strict=True):
                part, axis = TWIST_AXES[name]
                setattr(getattr(msg, part), axis, float(value))
        return msg

    def _traj(self, command: Command):
        traj_msgs = require("trajectory_msgs.msg", extra="ros")
        duration = require("builtin_interfaces.msg", extra="ros").Duration
        msg = traj_msgs.JointTrajectory()
        msg.joint_names = list(self.names)
        point = traj_msgs.JointTrajectoryPoint()
        point.positions = [float(v) for v in command.values]
        nanos = int(self.period_s * 1e9)
        point.time_from_start = duration(sec=nanos // 10**9, nanosec=nanos % 10**9)
        msg.points = [point]
        return msg

    def _close(self) -> None:
        if self._node is not None:
            self._node.destroy_node()
            self._node = None
