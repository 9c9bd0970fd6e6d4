"""pi0.5's state-in-prompt recipe (vla_edge.policy.state_prompt) as the runtime applies it."""

import numpy as np
import pytest

from vla_edge.errors import InputError, SpecError
from vla_edge.policy.spec import ActionSpace, CameraSpec, InstructionSpec, PolicySpec
from vla_edge.policy.state_prompt import StatePrompt

TEMPLATE = "Task: {task}, State: {state};\nAction: "


def _prompt(dim=3, **kw):
    data = {
        "template": TEMPLATE,
        "bins": 256,
        "mul": [2.0] * dim,
        "sub": [0.0] * dim,
        "div": [10.0] * dim,
        "add": [-1.0] * dim,
    }
    data.update(kw)
    return data


def test_bins_and_text_as_lerobot_writes_them():
    sp = StatePrompt.from_dict(_prompt(), 3)
    # normalized: 2 * x / 10 - 1 -> x = 0 -> -1 (bin 0), x = 5 -> 0 (bin 128), x = 10 -> 1
    # (the last edge is 1 - 2/256, so bin 255), below the range -> -1 as np.digitize gives
    state = np.array([[0.0, 5.0, 10.0], [-3.0, 2.5, 9.99]], np.float32)
    assert sp.discretize(state).tolist() == [[0, 128, 255], [-1, 64, 255]]
    out = sp.render(["  open_the drawer\n", "x"], state)
    assert out[0] == "Task: open the drawer, State: 0 128 255;\nAction: "
    assert out[1] == "Task: x, State: -1 64 255;\nAction: "


def test_state_rows_must_match_the_instructions():
    sp = StatePrompt.from_dict(_prompt(), 3)
    with pytest.raises(InputError, match="one state row per instruction"):
        sp.render(["a", "b"], np.zeros((1, 3), np.float32))


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        ({"template": "State: {state}"}, "must contain {task} and {state}"),
        ({"bins": 1}, "bins must be an integer >= 2"),
        ({"div": [1.0, 1.0]}, "must have state_dim=3 values"),
    ],
)
def test_bad_recipes_are_spec_errors(bad, match):
    with pytest.raises(SpecError, match=match):
        StatePrompt.from_dict(_prompt(**bad), 3)


def _spec(state_dim, prompt):
    return PolicySpec(
        cameras=[CameraSpec("top", 8, 8)],
        action=ActionSpace(names=["a"], units=["m"], low=[-1.0], high=[1.0]),
        state_dim=state_dim,
        instruction=InstructionSpec(tokenizer="byte", state_prompt=prompt),
    )


def test_the_spec_checks_the_recipe_and_round_trips():
    with pytest.raises(SpecError, match="state_dim is 0"):
        _spec(0, _prompt())
    with pytest.raises(SpecError, match="state_dim=2"):
        _spec(2, _prompt())
    spec = _spec(3, _prompt())
    assert PolicySpec.from_json(spec.to_json()).instruction.state_prompt == _prompt()
    assert PolicySpec.from_json(_spec(3, None).to_json()).instruction.state_prompt is None
