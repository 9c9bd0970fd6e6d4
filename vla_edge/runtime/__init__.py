"""The camera-to-actuator control loop: cameras, actuators, scheduler, watchdog, safety filter,
action chunking, per-stage profiling. `ControlLoop(policy, cameras, actuator, LoopConfig())`.

Importing this package loads numpy only; OpenCV, rclpy and matplotlib load when used.
"""

from vla_edge.runtime.config import LoopConfig
from vla_edge.runtime.loop import ControlLoop

__all__ = ["ControlLoop", "LoopConfig"]
