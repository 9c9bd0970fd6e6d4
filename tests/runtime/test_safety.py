import numpy as np
import pytest

from tests.fakes.policies import make_spec
from vla_edge.errors import RuntimeLoopError
from vla_edge.runtime.actuators.base import ActuatorSpace
from vla_edge.runtime.safety import SafetyFilter, check_compatible, safe_values


def test_clamps_to_limits_and_counts():
    f = SafetyFilter(make_spec().action)
    out = f(np.array([2.0, -3.0, 0.5, 1.0], np.float32), None)
    assert out.tolist() == [1.0, -1.0, 0.5, 1.0]
    assert f.clamped == 1
    f(np.zeros(4, np.float32), None)
    assert f.clamped == 1


def test_rate_limit_bounds_the_change_per_step():
    f = SafetyFilter(make_spec().action, max_step=0.1)  # 0.1 * range 2 = 0.2 per step
    last = np.zeros(4, np.float32)
    out = f(np.array([1.0, -1.0, 0.1, 0.0], np.float32), last)
    np.testing.assert_allclose(out, [0.2, -0.2, 0.1, 0.0], atol=1e-6)
    assert f.rate_limited == 1
    np.testing.assert_allclose(f(np.ones(4, np.float32), None), np.ones(4))  # first command


def test_actuator_limits_tighten_the_policy_limits():
    target = ActuatorSpace(low=[-0.5] * 4, high=[0.25] * 4)
    f = SafetyFilter(make_spec().action, target)
    assert f(np.array([1, -1, 0, 0], np.float32), None).tolist() == [0.25, -0.5, 0, 0]


def test_disjoint_limits_are_refused():
    with pytest.raises(RuntimeLoopError, match="do not overlap"):
        SafetyFilter(make_spec().action, ActuatorSpace(low=[2.0] * 4, high=[3.0] * 4))


@pytest.mark.parametrize(
    "target, match",
    [
        (ActuatorSpace(dim=7), "outputs 4 values"),
        (ActuatorSpace(names=["x", "y", "grip", "z"]), "same order"),
        (ActuatorSpace(units=["m", "m", "m", "rad"]), "units differ"),
    ],
)
def test_mismatched_action_space_is_refused(target, match):
    with pytest.raises(RuntimeLoopError, match=match):
        check_compatible(make_spec().action, target, "robot")


def test_matching_or_undeclared_space_is_accepted():
    spec = make_spec()
    check_compatible(spec.action, ActuatorSpace(), "stdout")
    check_compatible(spec.action, ActuatorSpace(names=["x", "y", "z", "grip"]), "udp")


def test_safe_values():
    f = SafetyFilter(make_spec(low=0.5, high=2.0).action)
    last = np.full(4, 1.5, np.float32)
    assert safe_values("zero", last, f).tolist() == [0.5] * 4  # zero clamped into the limits
    assert safe_values("hold", last, f).tolist() == [1.5] * 4
    assert safe_values("stop", None, f, initial=np.full(4, 3.0)).tolist() == [2.0] * 4
