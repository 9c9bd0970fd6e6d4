"""Every path that returns actions clamps them to the spec's limits and refuses NaN/inf:
Policy.predict, Policy.predict_batch, `vla-edge predict` (non-zero exit), the control loop
(a fault, failing safe) and the simulator evaluation.

The bundle is a real export of a module whose actions are 10 x state (so a large state drives
them past the limits) and NaN when state[2] < -100 (sqrt of a negative number): its parity
samples are finite, so it exports; the bad values come only from the inputs given later."""

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from tests.fakes.actuators import RecordingActuator
from tests.fakes.cameras import LoopingCamera
from vla_edge.cli.main import app
from vla_edge.errors import ActionError
from vla_edge.export import ExportConfig, export_module
from vla_edge.policy.policy import Policy, limit_actions
from vla_edge.policy.spec import ActionSpace, CameraSpec, PolicySpec

NAMES = [f"j{i}" for i in range(6)]
NAN_STATE = np.array([0.0, 0.0, -1000.0], np.float32)


class TenTimesState(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.gain = torch.nn.Parameter(torch.tensor(10.0))

    def forward(self, image_left, state):
        base = image_left.float().mean(dim=(1, 2, 3))[:, None] * 0
        poison = torch.sqrt(state[:, 2:3] + 100.0) * 0  # NaN below -100
        return (self.gain * state.repeat(1, 2) + base + poison).reshape(-1, 1, 6)


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    spec = PolicySpec(
        cameras=[CameraSpec("left", 32, 32)],
        action=ActionSpace(NAMES, ["rad"] * 6, [-1.0] * 6, [1.0] * 6),
        state_dim=3,
    )
    cfg = ExportConfig(monolithic=True, include_source=False)
    out = tmp_path_factory.mktemp("limits") / "b"
    export_module(TenTimesState(), spec, out, cfg)
    return out


FRAME = {"left": np.zeros((32, 32, 3), np.uint8)}


def test_predict_clamps_to_the_limits(bundle):
    with Policy.load(bundle) as p:
        inside = p.predict(FRAME, "x", np.array([0.05, -0.03, 0.0], np.float32))
        outside = p.predict(FRAME, "x", np.array([5.0, -5.0, 0.02], np.float32))
    np.testing.assert_allclose(inside[0], [0.5, -0.3, 0.0, 0.5, -0.3, 0.0], atol=1e-6)
    np.testing.assert_allclose(outside[0], [1.0, -1.0, 0.2, 1.0, -1.0, 0.2], atol=1e-6)


def test_predict_refuses_non_finite_actions(bundle):
    with Policy.load(bundle) as p, pytest.raises(ActionError) as err:
        p.predict(FRAME, "x", NAN_STATE)
    assert "6 non-finite action value(s) of 6" in str(err.value)
    assert "action 'j0'" in str(err.value)


def test_predict_batch_clamps_and_refuses(bundle):
    frames = {"left": np.zeros((3, 32, 32, 3), np.uint8)}
    states = np.array([[0.05, 0, 0], [9, -9, 0], [0, 0, 0]], np.float32)
    with Policy.load(bundle) as p:
        out = p.predict_batch(frames, "x", states)
        assert out.shape == (3, 1, 6) and out.max() == 1.0 and out.min() == -1.0
        np.testing.assert_allclose(out[0, 0, 0], 0.5, atol=1e-6)
        states[2] = NAN_STATE
        with pytest.raises(ActionError, match=r"first at \[2, 0, 0\]"):
            p.predict_batch(frames, "x", states)


def test_cli_predict_exits_non_zero_on_nan_and_prints_clamped(bundle, tmp_path):
    img = tmp_path / "f.npy"
    np.save(img, FRAME["left"])
    base = ["predict", str(bundle), "--image", f"left={img}", "--instruction", "x"]
    r = CliRunner().invoke(app, [*base, "--state", "0,0,-1000"])
    assert r.exit_code != 0 and "non-finite action" in r.output
    assert "Traceback" not in r.output and "action chunk" not in r.output  # no table printed
    r = CliRunner().invoke(app, [*base, "--state", "3,-3,0.01", "--json"])
    assert r.exit_code == 0, r.output
    import json

    acts = json.loads(r.output)["actions"]
    np.testing.assert_allclose(acts[0], [1, -1, 0.1, 1, -1, 0.1], atol=1e-6)


def test_the_loop_treats_a_nan_chunk_as_a_fault_and_fails_safe(bundle):
    from vla_edge.runtime import ControlLoop, LoopConfig

    def poison_after_three(actuator, command):
        if actuator.attempts == 3:
            actuator.robot_state = NAN_STATE

    act = RecordingActuator(state=np.array([0.05, 0, 0], np.float32), on_write=poison_after_three)
    cfg = LoopConfig(rate_hz=20.0, max_cycles=6, warmup=1, on_fault="stop")
    with Policy.load(bundle) as p:
        s = ControlLoop(p, {"left": LoopingCamera(size=32)}, act, cfg).run()
    assert s["faults"] == {"non_finite_action": 1}
    assert s["stop_reason"].startswith("fault (non_finite_action)")
    assert act.kinds == ["action"] * 3 + ["stop"]
    assert all(np.isfinite(c.values).all() for c in act.commands)


def test_limit_actions_clamps_without_touching_its_input():
    low, high = np.full(2, -1, np.float32), np.ones(2, np.float32)
    raw = np.array([[3.0, -0.5]], np.float32)
    out = limit_actions(raw, low, high, ["a", "b"])
    assert out.tolist() == [[1.0, -0.5]] and raw.tolist() == [[3.0, -0.5]]
    with pytest.raises(ActionError, match="action 'b'"):
        limit_actions(np.array([[0.0, np.inf]]), low, high, ["a", "b"])
