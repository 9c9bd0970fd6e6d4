"""ACT and Diffusion Policy from LeRobot checkpoints into verified bundles, checked against
LeRobot's own preprocessor -> policy -> postprocessor pipeline."""

import json
import subprocess
import sys

import numpy as np
import pytest
from typer.testing import CliRunner

pytest.importorskip("lerobot.policies", reason="lerobot needs Python >= 3.12 (.venv-lerobot)")
pytestmark = pytest.mark.lerobot

from vla_edge.cli.main import app  # noqa: E402
from vla_edge.errors import AdapterError  # noqa: E402
from vla_edge.policy.policy import Policy  # noqa: E402


def _export(src, out, *extra):
    res = CliRunner().invoke(app, ["export", str(src), "-o", str(out), "--json", *extra])
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def test_act_exports_with_lerobot_parity(lerobot_ckpts, tmp_path):
    ckpt = lerobot_ckpts("act")
    out = _export(f"lerobot:{ckpt}", tmp_path / "b")
    val = out["validation"]
    assert val["parity"]["passed"] and val["lerobot_pipeline"]["passed"]
    assert val["lerobot_pipeline"]["max_abs_error"]["actions"] < 1e-4
    assert val["lerobot_pipeline"]["reference"].startswith("lerobot preprocessor")
    manifest = json.loads((tmp_path / "b/manifest.json").read_text())
    assert manifest["lerobot"]["cameras"] == {
        "top": "observation.images.top",
        "wrist_left": "observation.images.wrist.left",
    }
    spec = manifest["spec"]
    assert spec["action"]["chunk"] == 10 and spec["action"]["n_action_steps"] == 5
    assert [c["name"] for c in spec["cameras"]] == ["top", "wrist_left"]


def test_pretrained_model_folder_is_detected_without_prefix(lerobot_ckpts, tmp_path):
    run = lerobot_ckpts("act").parent  # the folder holding pretrained_model/
    out = _export(run, tmp_path / "b")
    assert out["validation"]["lerobot_pipeline"]["passed"]


def test_the_bundle_runs_without_lerobot(lerobot_ckpts, tmp_path):
    _export(f"lerobot:{lerobot_ckpts('act')}", tmp_path / "b")
    code = (
        "import sys; sys.modules['lerobot'] = None\n"
        "import numpy as np\n"
        "from vla_edge.policy.policy import Policy\n"
        f"p = Policy.load({str(tmp_path / 'b')!r})\n"
        "f = {c.name: np.zeros((c.height, c.width, 3), np.uint8) for c in p.spec.cameras}\n"
        "a = p.predict(f, 'x', np.zeros(p.spec.state_dim, np.float32))\n"
        "assert 'lerobot' not in [m.split('.')[0] for m in sys.modules if sys.modules[m]]\n"
        "print(a.shape)\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "(10, 6)"


def test_actions_are_clamped_to_the_dataset_limits(lerobot_ckpts, tmp_path):
    _export(f"lerobot:{lerobot_ckpts('act')}", tmp_path / "b")
    with Policy.load(tmp_path / "b") as p:
        frames = {c.name: np.full((c.height, c.width, 3), 255, np.uint8) for c in p.spec.cameras}
        a = p.predict(frames, "x", np.full(p.spec.state_dim, 1e3, np.float32))
        assert np.all(a >= np.array(p.spec.action.low) - 1e-6)
        assert np.all(a <= np.array(p.spec.action.high) + 1e-6)


def test_diffusion_ddim_with_fixed_noise(lerobot_ckpts, tmp_path):
    out = _export(f"lerobot:{lerobot_ckpts('diffusion')}", tmp_path / "b")
    val = out["validation"]["lerobot_pipeline"]
    assert val["passed"] and val["max_abs_error"]["actions"] < 1e-4
    manifest = json.loads((tmp_path / "b/manifest.json").read_text())
    assert manifest["spec"]["action"]["chunk"] == 4  # Diffusion returns n_action_steps
    assert manifest["lerobot"]["noise"].startswith("fixed buffer")
    assert manifest["lerobot"]["conversions"] == []


def test_ddpm_is_converted_to_ddim_with_the_reason(lerobot_ckpts, tmp_path):
    ckpt = lerobot_ckpts("diffusion", noise_scheduler_type="DDPM")
    _export(f"lerobot:{ckpt}", tmp_path / "b")
    manifest = json.loads((tmp_path / "b/manifest.json").read_text())
    (reason,) = manifest["lerobot"]["conversions"]
    assert reason.startswith("DDPM -> DDIM") and "fresh noise" in reason


def test_diffusion_with_an_observation_history_is_refused(lerobot_ckpts, tmp_path):
    ckpt = lerobot_ckpts("diffusion", n_obs_steps=2)
    res = CliRunner().invoke(app, ["export", f"lerobot:{ckpt}", "-o", str(tmp_path / "b")])
    assert res.exit_code == 1 and "n_obs_steps=2 is not supported" in res.output
    assert not (tmp_path / "b").exists()


def test_unknown_policy_type_lists_the_adapters(lerobot_ckpts, tmp_path):
    from vla_edge.policy.adapters.lerobot.registry import adapter_for

    with pytest.raises(AdapterError, match=r"no adapter for LeRobot policy type 'vqbet'.*act"):
        adapter_for("vqbet")


def test_smolvla_exports_with_its_tokenizer_and_newline(lerobot_ckpts, tmp_path):
    """dynamo at opset 18; the tokenizer and LeRobot's "\\n" suffix ship in the bundle; the
    instruction changes the actions (the text reaches the graph)."""
    out = _export(f"lerobot:{lerobot_ckpts('smolvla')}", tmp_path / "b")
    val = out["validation"]["lerobot_pipeline"]
    assert val["passed"] and val["max_abs_error"]["actions"] < 1e-4
    assert [g["opset"] for g in out["graphs"]] == [18]
    with Policy.load(tmp_path / "b") as p:
        assert p.spec.instruction.suffix == "\n" and (tmp_path / "b/tokenizer").is_dir()
        frames = {c.name: np.full((c.height, c.width, 3), 90, np.uint8) for c in p.spec.cameras}
        state = np.zeros(p.spec.state_dim, np.float32)
        a = p.predict(frames, "pick up the red block", state)
        b = p.predict(frames, "close the window", state)
    assert a.shape == (6, 6) and not np.allclose(a, b)
