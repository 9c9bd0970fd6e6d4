"""Diffusion Policy from a LeRobot checkpoint: DDIM with fixed noise, DDPM converted with the
reason, an observation history refused."""

import pytest
from typer.testing import CliRunner

pytest.importorskip("lerobot.policies", reason="lerobot needs Python >= 3.12 (.venv-lerobot)")
pytestmark = pytest.mark.lerobot

from tests.lerobot.common import export_json, manifest  # noqa: E402
from vla_edge.cli.main import app  # noqa: E402


def test_diffusion_ddim_with_fixed_noise(lerobot_ckpts, tmp_path):
    out = export_json(f"lerobot:{lerobot_ckpts('diffusion')}", tmp_path / "b")
    val = out["validation"]["lerobot_pipeline"]
    assert val["passed"] and val["max_abs_error"]["actions"] < 1e-4
    m = manifest(tmp_path / "b")
    assert m["spec"]["action"]["chunk"] == 4  # Diffusion returns n_action_steps
    assert m["lerobot"]["noise"].startswith("fixed buffer")
    assert m["lerobot"]["conversions"] == []


def test_ddpm_is_converted_to_ddim_with_the_reason(lerobot_ckpts):
    """The adapter's check swaps the scheduler (export records what check returns, as the DDIM
    test shows with an empty list); exporting the converted policy is the DDIM path above."""
    from vla_edge.policy.adapters.lerobot import checkpoint
    from vla_edge.policy.adapters.lerobot.registry import adapter_for

    loaded = checkpoint.load(lerobot_ckpts("diffusion", noise_scheduler_type="DDPM"))
    assert type(loaded.policy.diffusion.noise_scheduler).__name__ == "DDPMScheduler"
    (reason,) = adapter_for("diffusion").check(loaded)
    assert reason.startswith("DDPM -> DDIM") and "fresh noise" in reason
    assert type(loaded.policy.diffusion.noise_scheduler).__name__ == "DDIMScheduler"
    assert loaded.config.noise_scheduler_type == "DDIM"


def test_diffusion_with_an_observation_history_is_refused(lerobot_ckpts, tmp_path):
    ckpt = lerobot_ckpts("diffusion", n_obs_steps=2)
    res = CliRunner().invoke(app, ["export", f"lerobot:{ckpt}", "-o", str(tmp_path / "b")])
    assert res.exit_code == 1 and "n_obs_steps=2 is not supported" in res.output
    assert not (tmp_path / "b").exists()
