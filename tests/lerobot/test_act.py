"""ACT from a LeRobot checkpoint into a verified bundle, checked against LeRobot's own
preprocessor -> policy -> postprocessor pipeline. One export shared by the module's tests."""

import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("lerobot.policies", reason="lerobot needs Python >= 3.12 (.venv-lerobot)")
pytestmark = pytest.mark.lerobot

from tests.lerobot.common import export_json, manifest  # noqa: E402
from vla_edge.errors import AdapterError  # noqa: E402
from vla_edge.policy.policy import Policy  # noqa: E402


@pytest.fixture(scope="module")
def act(lerobot_ckpts, tmp_path_factory):
    """(export report, bundle path) of the tiny ACT checkpoint, exported once."""
    out = tmp_path_factory.mktemp("act") / "b"
    return export_json(f"lerobot:{lerobot_ckpts('act')}", out), out


def test_act_exports_with_lerobot_parity(act):
    report, bundle = act
    val = report["validation"]
    assert val["parity"]["passed"] and val["lerobot_pipeline"]["passed"]
    assert val["lerobot_pipeline"]["max_abs_error"]["actions"] < 1e-4
    assert val["lerobot_pipeline"]["reference"].startswith("lerobot preprocessor")
    m = manifest(bundle)
    assert m["lerobot"]["cameras"] == {
        "top": "observation.images.top",
        "wrist_left": "observation.images.wrist.left",
    }
    spec = m["spec"]
    assert spec["action"]["chunk"] == 10 and spec["action"]["n_action_steps"] == 5
    assert [c["name"] for c in spec["cameras"]] == ["top", "wrist_left"]


def test_pretrained_model_folder_is_detected_without_prefix(lerobot_ckpts, tmp_path):
    run = lerobot_ckpts("act").parent  # the folder holding pretrained_model/
    out = export_json(run, tmp_path / "b")
    assert out["validation"]["lerobot_pipeline"]["passed"]


def test_the_bundle_runs_without_lerobot(act):
    _, bundle = act
    code = (
        "import sys; sys.modules['lerobot'] = None\n"
        "import numpy as np\n"
        "from vla_edge.policy.policy import Policy\n"
        f"p = Policy.load({str(bundle)!r})\n"
        "f = {c.name: np.zeros((c.height, c.width, 3), np.uint8) for c in p.spec.cameras}\n"
        "a = p.predict(f, 'x', np.zeros(p.spec.state_dim, np.float32))\n"
        "assert 'lerobot' not in [m.split('.')[0] for m in sys.modules if sys.modules[m]]\n"
        "print(a.shape)\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "(10, 6)"


def test_actions_are_clamped_to_the_dataset_limits(act):
    _, bundle = act
    with Policy.load(bundle) as p:
        frames = {c.name: np.full((c.height, c.width, 3), 255, np.uint8) for c in p.spec.cameras}
        a = p.predict(frames, "x", np.full(p.spec.state_dim, 1e3, np.float32))
        assert np.all(a >= np.array(p.spec.action.low) - 1e-6)
        assert np.all(a <= np.array(p.spec.action.high) + 1e-6)


def test_unknown_policy_type_lists_the_adapters():
    from vla_edge.policy.adapters.lerobot.registry import adapter_for

    with pytest.raises(AdapterError, match=r"no adapter for LeRobot policy type 'vqbet'.*act"):
        adapter_for("vqbet")
