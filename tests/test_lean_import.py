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


# --- the robot's commands, run with torch and transformers made unimportable ----------------------

BLOCKER = '''
import sys


class _NoTorch:
    """Make the export-side packages unimportable, as in a runtime-only install."""

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("torch", "transformers", "onnxscript"):
            raise ModuleNotFoundError(f"No module named {name!r} (blocked)", name=name)
        return None


sys.meta_path.insert(0, _NoTorch())
'''


def _no_torch_env(tmp_path):
    import os

    site = tmp_path / "no-torch-site"
    site.mkdir(exist_ok=True)
    (site / "sitecustomize.py").write_text(BLOCKER)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(site), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return env


def _cli(args: list[str], env: dict) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "vla_edge.cli.main", *args]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)


def test_the_blocker_really_blocks_torch(tmp_path):
    out = subprocess.run(
        [sys.executable, "-c", "import torch"],
        capture_output=True,
        text=True,
        env=_no_torch_env(tmp_path),
    )
    assert out.returncode != 0 and "blocked" in out.stderr


def test_runtime_commands_run_without_torch(tmp_path, tiny_bundle):
    """run, predict, check, build, benchmark and info on a bundle with no torch or transformers
    importable (benchmark's worker processes inherit the block through PYTHONPATH)."""
    env, bundle = _no_torch_env(tmp_path), str(tiny_bundle("bins"))
    actions = tmp_path / "actions.jsonl"
    ok = [
        ["info", bundle],
        ["predict", bundle, "--example", "--json"],
        ["check", bundle, "--device", "orin-nano"],
        ["benchmark", bundle, "--device", "host", "--rounds", "1", "--iterations", "5"],
        [
            "run",
            bundle,
            "--camera",
            "front=pattern:64x64@30",
            "--actuator",
            f"file:{actions}",
            "--instruction",
            "open the drawer",
            "--state",
            "mean",
            "--rate",
            "20",
            "--cycles",
            "4",
            "--quiet",
        ],
    ]
    for args in ok:
        out = _cli(args, env)
        assert out.returncode == 0, (args, out.stderr[-2000:])
        assert "blocked" not in out.stderr, (args, out.stderr[-2000:])
    assert len(actions.read_text().splitlines()) >= 4
    built = _cli(["build", bundle, "--device", "orin-agx"], env)
    assert built.returncode == 1 and "TensorRT not found" in built.stderr, built.stderr[-2000:]


def test_export_side_command_says_which_extra_to_install(tmp_path, tiny_checkpoint):
    out = _cli(
        ["export", str(tiny_checkpoint("bins")), "-o", str(tmp_path / "b")], _no_torch_env(tmp_path)
    )
    assert out.returncode == 1, out.stderr[-2000:]
    assert "pip install 'vla-edge[export]'" in out.stderr and "Traceback" not in out.stderr


def test_text_tokenizer_bundle_predicts_without_transformers(tmp_path, tiny_bundle):
    from tests.fakes.text import bundle_with_word_tokenizer

    bundle = bundle_with_word_tokenizer(tiny_bundle("bins"), tmp_path / "b")
    env = _no_torch_env(tmp_path)
    out = _cli(["predict", str(bundle), "--example", "--instruction", "open the drawer"], env)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "4-step action chunk" in out.stdout


def test_deploy_imports_nothing_heavy():
    assert _loaded("import vla_edge.deploy.api, vla_edge.cli.deploy, vla_edge.deploy.verify") == []
