"""Fault commands follow what the actions mean: `hold` and `stop` send zero motion for delta
(velocity) dimensions and the last commanded value for absolute ones; an undeclared space is
read as deltas (the documented default) and `--action-kind` overrides the spec."""

import numpy as np
import pytest

from tests.fakes.actuators import RecordingActuator
from tests.fakes.cameras import LoopingCamera
from tests.fakes.policies import FakePolicy, make_spec
from vla_edge.errors import RuntimeLoopError
from vla_edge.runtime import ControlLoop, LoopConfig
from vla_edge.runtime.safety import SafetyFilter, safe_values

MIXED = ["delta", "delta", "delta", "absolute"]


def run(kind, action_kind=None, **cfg):
    policy = FakePolicy(make_spec(kind=kind), nan_calls={2})
    act = RecordingActuator()
    cfg = {"rate_hz": 100.0, "max_cycles": 12, "warmup": 0, "execute": 4, **cfg}
    loop = ControlLoop(
        policy, {"front": LoopingCamera()}, act, LoopConfig(action_kind=action_kind, **cfg)
    )
    return loop.run(), act, policy


def test_safe_values_per_dimension():
    f = SafetyFilter(make_spec(low=-1.0, high=1.0).action)
    last = np.array([0.4, -0.4, 0.2, 0.9], np.float32)
    assert safe_values("hold", last, f, delta=[True] * 4).tolist() == [0.0] * 4
    assert safe_values("stop", last, f, delta=[False] * 4).tolist() == last.tolist()
    got = safe_values("hold", last, f, delta=[True, True, True, False])
    np.testing.assert_allclose(got, [0, 0, 0, 0.9])
    # nothing sent yet: absolute dims take the robot's initial state when it has their size
    got = safe_values("stop", None, f, initial=np.full(4, 0.3), delta=[True, False, True, False])
    np.testing.assert_allclose(got, [0, 0.3, 0, 0.3])
    got = safe_values("stop", None, f, initial=np.full(9, 0.3), delta=[False] * 4)
    assert got.tolist() == [0.0] * 4  # a state of another size is not a position


def test_delta_space_holds_and_stops_with_zero_motion():
    s, act, _ = run("delta")
    k = act.kinds.index("hold")
    assert k == 4 and np.abs(act.commands[k - 1].values).max() > 0  # the arm was moving
    assert act.commands[k].values.tolist() == [0.0] * 4  # hold = no motion, not the last delta
    assert act.kinds[-1] == "stop" and act.commands[-1].values.tolist() == [0.0] * 4
    assert s["action_kind"] == {"kinds": ["delta"] * 4, "from": "spec"}


def test_absolute_space_holds_and_stops_at_the_last_position():
    s, act, _ = run("absolute")
    k = act.kinds.index("hold")
    np.testing.assert_array_equal(act.commands[k].values, act.commands[k - 1].values)
    np.testing.assert_array_equal(act.commands[-1].values, act.commands[-2].values)


def test_mixed_space_keeps_the_gripper_and_stops_the_hand():
    s, act, policy = run(MIXED, on_fault="stop")
    assert act.kinds == ["action"] * 4 + ["stop"]
    last = act.commands[-2].values
    assert act.commands[-1].values.tolist() == [0.0, 0.0, 0.0, float(last[3])]
    assert last[3] != 0  # the gripper setting is kept, not dropped to 0
    assert s["stop_reason"].startswith("fault (non_finite_action)")


def test_undeclared_space_is_read_as_deltas_and_says_so():
    s, act, _ = run(None)
    assert act.commands[act.kinds.index("hold")].values.tolist() == [0.0] * 4
    assert s["action_kind"]["kinds"] == ["delta"] * 4
    assert s["action_kind"]["from"].startswith("default (delta")


def test_action_kind_override_wins_and_is_checked():
    s, act, _ = run("delta", action_kind="absolute")
    k = act.kinds.index("hold")
    np.testing.assert_array_equal(act.commands[k].values, act.commands[k - 1].values)
    assert s["action_kind"] == {"kinds": ["absolute"] * 4, "from": "--action-kind"}
    with pytest.raises(RuntimeLoopError, match="--action-kind: action kind must be one of"):
        run(None, action_kind=["delta", "absolute"])


@pytest.fixture(scope="module")
def undeclared_bundle(tmp_path_factory):
    """A bundle whose spec declares no action kind (as manifests written before the field)."""
    import torch

    from vla_edge.export import ExportConfig, export_module
    from vla_edge.policy.spec import ActionSpace, CameraSpec, PolicySpec

    class Pool(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = torch.nn.Linear(3, 4)

        def forward(self, image_front):
            return torch.tanh(self.fc(image_front.float().mean(dim=(1, 2)) / 255))[:, None]

    spec = PolicySpec(
        cameras=[CameraSpec("front", 16, 16)],
        action=ActionSpace(["a", "b", "c", "d"], ["m"] * 4, [-1.0] * 4, [1.0] * 4),
    )
    out = tmp_path_factory.mktemp("kind") / "b"
    export_module(Pool(), spec, out, ExportConfig(monolithic=True, include_source=False))
    return out


def test_cli_warns_on_an_undeclared_space_and_takes_the_override(undeclared_bundle):
    import json

    from typer.testing import CliRunner

    from vla_edge.cli.main import app

    base = ["run", str(undeclared_bundle), "--camera", "pattern", "--actuator", "null"]
    base += ["--cycles", "3", "--rate", "20"]
    r = CliRunner().invoke(app, base)
    assert r.exit_code == 0, r.output
    assert "does not declare what its actions mean" in r.output and "--action-kind" in r.output
    r = CliRunner().invoke(app, [*base, "--action-kind", "delta,delta,delta,absolute", "--json"])
    assert r.exit_code == 0, r.output
    s = json.loads(r.output[r.output.index("{") :])
    assert s["action_kind"] == {"kinds": MIXED, "from": "--action-kind"}
    r = CliRunner().invoke(app, [*base, "--action-kind", "velocity"])
    assert r.exit_code == 1 and "--action-kind: action kind must be one of" in r.output
    assert "Traceback" not in r.output
