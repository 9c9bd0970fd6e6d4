"""The runtime imports numpy only: OpenCV, matplotlib, rclpy, MuJoCo and the backends load
when used."""

import json
import subprocess
import sys

HEAVY = ["cv2", "matplotlib", "rclpy", "mujoco", "metaworld", "torch", "onnxruntime", "tensorrt"]


def test_runtime_and_run_command_import_light():
    code = (
        "import json, sys\n"
        "import vla_edge.runtime, vla_edge.runtime.loop, vla_edge.runtime.cameras\n"
        "import vla_edge.runtime.actuators, vla_edge.runtime.actuators.ros2\n"
        "import vla_edge.runtime.profile, vla_edge.runtime.sim, vla_edge.cli.run\n"
        f"print(json.dumps(sorted(m for m in {HEAVY} if m in sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []
