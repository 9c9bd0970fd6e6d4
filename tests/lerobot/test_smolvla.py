"""SmolVLA from a LeRobot checkpoint (a generated tiny SmolVLM folder, word-level tokenizer)."""

import numpy as np
import pytest

pytest.importorskip("lerobot.policies", reason="lerobot needs Python >= 3.12 (.venv-lerobot)")
pytestmark = pytest.mark.lerobot

from tests.lerobot.common import export_json  # noqa: E402
from vla_edge.policy.policy import Policy  # noqa: E402


def test_smolvla_exports_with_its_tokenizer_and_newline(lerobot_ckpts, tmp_path):
    """dynamo at opset 18; the tokenizer and LeRobot's "\\n" suffix ship in the bundle; the
    instruction changes the actions (the text reaches the graph)."""
    out = export_json(f"lerobot:{lerobot_ckpts('smolvla')}", tmp_path / "b")
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
