"""pi0 from a LeRobot checkpoint (a tiny PaliGemma: small Gemma widths, a one-layer SigLIP,
a word-level tokenizer, built offline), checked against LeRobot's own pipeline."""

import numpy as np
import pytest

pytest.importorskip("lerobot.policies", reason="lerobot needs Python >= 3.12 (.venv-lerobot)")
pytestmark = pytest.mark.lerobot

from tests.lerobot import tiny  # noqa: E402
from tests.lerobot.common import export_json, manifest  # noqa: E402
from vla_edge.policy.policy import Policy  # noqa: E402


@pytest.fixture(scope="module")
def pi0(lerobot_ckpts, tmp_path_factory):
    out = tmp_path_factory.mktemp("pi0") / "b"
    with tiny.tiny_paligemma():
        return export_json(f"lerobot:{lerobot_ckpts('pi0')}", out), out


def test_pi0_exports_with_lerobot_parity(pi0):
    report, bundle = pi0
    val = report["validation"]["lerobot_pipeline"]
    assert val["passed"] and val["max_abs_error"]["actions"] < 1e-4
    assert [g["opset"] for g in report["graphs"]] == [18]
    m = manifest(bundle)
    assert m["lerobot"]["adapter"] == "lerobot-pi0" and m["lerobot"]["noise"].startswith("fixed")
    spec = m["spec"]
    # the graph returns the whole chunk, cut back from max_action_dim 8 to the dataset's 6
    assert spec["action"]["chunk"] == 6 and spec["action"]["n_action_steps"] == 3
    assert len(spec["action"]["low"]) == 6 and spec["state_dim"] == 6
    assert spec["instruction"]["suffix"] == "\n" and spec["instruction"]["max_tokens"] == 16


def test_pi0_bundle_reads_text_and_state(pi0):
    """The instruction (tokenized with PaliGemma's <bos> and "\\n", padded right) and the state
    (padded to max_state_dim inside the graph) both change the actions."""
    _, bundle = pi0
    with Policy.load(bundle) as p:
        ids, mask = p.tokenizer(["pick up the red block"])
        assert ids[0, 0] == p.tokenizer.tok.token_to_id("<bos>")
        assert ids[0, int(mask[0].sum()) - 1] == p.tokenizer.tok.token_to_id("\n")
        assert mask[0, -1] == 0  # right padding
        frames = {c.name: np.full((c.height, c.width, 3), 90, np.uint8) for c in p.spec.cameras}
        state = np.zeros(p.spec.state_dim, np.float32)
        a = p.predict(frames, "pick up the red block", state)
        b = p.predict(frames, "close the window", state)
        c = p.predict(frames, "pick up the red block", state + 1.0)
    assert a.shape == (6, 6) and not np.allclose(a, b) and not np.allclose(a, c)


def test_relative_actions_are_refused(lerobot_ckpts, tmp_path):
    from typer.testing import CliRunner

    from vla_edge.cli.main import app

    with tiny.tiny_paligemma():
        ckpt = lerobot_ckpts("pi0", use_relative_actions=True)
        res = CliRunner().invoke(app, ["export", f"lerobot:{ckpt}", "-o", str(tmp_path / "b")])
    assert res.exit_code == 1 and "use_relative_actions=True is not supported" in res.output
    assert not (tmp_path / "b").exists()
