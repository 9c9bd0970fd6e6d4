"""pi0.5 from a LeRobot checkpoint: the state reaches the model only through the prompt, which
the bundle's runtime writes every frame as LeRobot's preprocessor does."""

import numpy as np
import pytest

pytest.importorskip("lerobot.policies", reason="lerobot needs Python >= 3.12 (.venv-lerobot)")
pytestmark = pytest.mark.lerobot

from tests.lerobot import tiny  # noqa: E402
from tests.lerobot.common import export_json, manifest  # noqa: E402
from vla_edge.policy.policy import Policy  # noqa: E402


@pytest.fixture(scope="module")
def pi05(lerobot_ckpts, tmp_path_factory):
    out = tmp_path_factory.mktemp("pi05") / "b"
    with tiny.tiny_paligemma():
        ckpt = lerobot_ckpts("pi05")
        return export_json(f"lerobot:{ckpt}", out), out, ckpt


def test_pi05_exports_with_lerobot_parity(pi05):
    report, bundle, _ = pi05
    val = report["validation"]["lerobot_pipeline"]
    assert val["passed"] and val["max_abs_error"]["actions"] < 1e-4
    ins = manifest(bundle)["spec"]["instruction"]
    assert ins["suffix"] == "" and ins["state_prompt"]["bins"] == 256
    assert ins["state_prompt"]["template"] == "Task: {task}, State: {state};\nAction: "


def test_the_prompt_matches_lerobots_preprocessor(pi05):
    """The runtime's prompt tokens equal what LeRobot's preprocessor feeds the model, state
    included (normalized by QUANTILES, 256 bins)."""
    import torch

    from vla_edge.policy.adapters.lerobot import checkpoint

    _, bundle, ckpt = pi05
    with tiny.tiny_paligemma():
        loaded = checkpoint.load(ckpt)
    rng = np.random.default_rng(3)
    with Policy.load(bundle) as p:
        for _ in range(4):
            state = rng.normal(0, 2, (1, p.spec.state_dim)).astype(np.float32)
            (text,) = p._state_prompt().render(["pick_up the red block"], state)
            ids, mask = p.tokenizer([text])
            obs = {
                "observation.images.top": torch.rand(3, 24, 32),
                "observation.state": torch.from_numpy(state[0]),
                "task": "pick_up the red block",
            }
            out = loaded.pre(obs)
            assert ids.tolist() == out["observation.language.tokens"].tolist()
            assert mask.tolist() == out["observation.language.attention_mask"].long().tolist()


def test_the_state_changes_the_actions_through_the_prompt(pi05):
    _, bundle, _ = pi05
    with Policy.load(bundle) as p:
        frames = {c.name: np.full((c.height, c.width, 3), 90, np.uint8) for c in p.spec.cameras}
        state = np.zeros(p.spec.state_dim, np.float32)
        a = p.predict(frames, "pick up the red block", state)
        b = p.predict(frames, "pick up the red block", state + 3.0)
    assert a.shape == (6, 6) and not np.allclose(a, b)
