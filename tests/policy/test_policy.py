import numpy as np
import pytest

from vla_edge.errors import BackendError, BundleError, InputError, ShapeError
from vla_edge.policy.policy import Policy

FRAME = {"front": np.random.default_rng(0).integers(0, 256, (64, 64, 3), np.uint8)}
STATE = np.zeros(8, np.float32)


@pytest.fixture
def policy(tiny_bundle):
    with Policy.load(tiny_bundle("continuous"), backend="onnxrt") as p:
        yield p


def test_instruction_cache_reencodes_only_on_change(policy):
    a1 = policy.predict(FRAME, "open the drawer", STATE)
    a2 = policy.predict(FRAME, "open the drawer", STATE)
    assert (policy.cache_misses, policy.cache_hits) == (1, 1)
    b = policy.predict(FRAME, "push the button", STATE)
    assert policy.cache_misses == 2
    np.testing.assert_array_equal(a1, a2)
    # the cached path gives what a fresh encode gives, and the instruction matters
    again = policy.predict(FRAME, "open the drawer", STATE)
    np.testing.assert_array_equal(a1, again)
    assert not np.array_equal(a1, b)


@pytest.mark.parametrize("head", ["bins", "continuous", "flow"])
def test_onnxrt_and_torch_backends_agree(tiny_bundle, head):
    path = tiny_bundle(head)
    with Policy.load(path, backend="onnxrt") as o, Policy.load(path, backend="torch") as t:
        a, b = (
            o.predict(FRAME, "open the drawer", STATE),
            t.predict(FRAME, "open the drawer", STATE),
        )
    np.testing.assert_allclose(a, b, atol=1e-4)
    assert o.last_latency_ms > 0


def test_split_and_monolithic_agree(tiny_bundle):
    with Policy.load(tiny_bundle("flow")) as s, Policy.load(tiny_bundle("flow", True)) as m:
        np.testing.assert_allclose(
            s.predict(FRAME, "reach the goal", STATE),
            m.predict(FRAME, "reach the goal", STATE),
            atol=1e-5,
        )


@pytest.mark.parametrize(
    "frames, state, error, message",
    [
        (
            {"front": FRAME["front"][:32]},
            STATE,
            ShapeError,
            r"expected an image of shape \[64, 64, 3\]",
        ),
        ({"front": FRAME["front"].astype(np.float32)}, STATE, InputError, "must be uint8"),
        ({"wrist": FRAME["front"]}, STATE, InputError, r"unknown \['wrist'\], missing \['front'\]"),
        (FRAME, np.full(8, np.nan, np.float32), InputError, "NaN or inf"),
        (FRAME, np.zeros(3, np.float32), ShapeError, "state must have 8 values"),
        (FRAME, None, InputError, "needs a proprio state of 8"),
    ],
)
def test_bad_inputs_give_clear_errors(policy, frames, state, error, message):
    with pytest.raises(error, match=message):
        policy.predict(frames, "open the drawer", state)


def test_too_long_instruction(policy):
    with pytest.raises(InputError, match="at most 32"):
        policy.predict(FRAME, "please pick up the red block and put it in the top drawer", STATE)


def test_load_errors(tiny_checkpoint, tmp_path):
    with pytest.raises(BackendError, match="use --backend torch, or export it first"):
        Policy.load(tiny_checkpoint("bins"), backend="onnxrt")
    with pytest.raises(BundleError, match="neither a bundle"):
        Policy.load(tmp_path, backend="onnxrt")
    with pytest.raises(BackendError, match="unknown backend 'tensorflow'"):
        Policy.load(tmp_path, backend="tensorflow")


def test_checkpoint_runs_on_torch(tiny_checkpoint):
    with Policy.load(tiny_checkpoint("bins"), backend="torch") as p:
        assert p.predict(FRAME, "open the drawer", STATE).shape == (4, 4)
