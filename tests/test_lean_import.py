"""`import vla_edge` and `vla-edge --help` stay light: no TensorRT, pycuda, GPU onnxruntime."""

import json
import subprocess
import sys

HEAVY = ["tensorrt", "pycuda", "onnxruntime", "torch", "mujoco", "metaworld", "cv2", "rclpy"]

CODE = """
import json, sys
{body}
print(json.dumps(sorted(m for m in {heavy} if m in sys.modules)))
"""


def _loaded(body: str) -> list[str]:
    code = CODE.format(body=body, heavy=HEAVY)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_import_vla_edge_loads_nothing_heavy():
    assert _loaded("import vla_edge, vla_edge.errors, vla_edge.deps") == []


def test_cli_help_loads_nothing_heavy():
    body = (
        "from typer.testing import CliRunner\n"
        "from vla_edge.cli.main import app\n"
        "r = CliRunner().invoke(app, ['--help'])\n"
        "assert r.exit_code == 0, r.output\n"
    )
    assert _loaded(body) == []
