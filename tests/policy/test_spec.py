import pytest

from vla_edge.errors import SpecError
from vla_edge.policy.reference import default_spec
from vla_edge.policy.spec import ActionSpace, CameraSpec, PolicySpec


def test_spec_round_trips_through_json(tmp_path):
    spec = default_spec("tiny", "flow", cameras=("front", "wrist"))
    spec.save(tmp_path / "spec.json")
    again = PolicySpec.load(tmp_path / "spec.json")
    assert again == spec
    assert again.camera("wrist").input_name == "image_wrist"


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda d: d["action"].update(low=[0, 0, 0, 0], high=[0, 1, 1, 1]), "low must be < high"),
        (lambda d: d["action"].update(units=["m"]), "units must have 4 entries"),
        (lambda d: d["action"].update(representation="tokens"), "representation must be one of"),
        (lambda d: d["cameras"][0].update(name="front cam"), "camera name 'front cam' is invalid"),
        (lambda d: d["cameras"].append(dict(d["cameras"][0])), "camera names must be unique"),
        (lambda d: d["normalization"].update(state_std=[0.0] * 8), "state_std must be > 0"),
        (lambda d: d["normalization"].update(action_mean=None), "both action_mean and action_std"),
        (lambda d: d.pop("action"), "missing ['action']"),
        (lambda d: d["action"].update(chunck=3), "does not match the expected fields"),
    ],
)
def test_bad_spec_says_what_was_expected(change, message):
    data = default_spec().to_dict()
    change(data)
    with pytest.raises(SpecError, match=message.replace("[", r"\[").replace("]", r"\]")):
        PolicySpec.from_dict(data)


def test_spec_rejects_no_camera():
    action = ActionSpace(["x"], ["m"], [-1], [1])
    with pytest.raises(SpecError, match="at least one camera"):
        PolicySpec(cameras=[], action=action)
    with pytest.raises(SpecError, match="integer >= 8"):
        CameraSpec("front", 4, 64)


def test_bad_json_is_a_spec_error():
    with pytest.raises(SpecError, match="not valid JSON"):
        PolicySpec.from_json("{cameras: ")


# --- action kind: what the values mean --------------------------------------------------------


def test_action_kind_per_dimension_and_its_default():
    spec = default_spec("tiny", "bins")
    assert spec.action.kinds == ["delta", "delta", "delta", "absolute"]  # gripper: a setting
    assert spec.action.delta_mask == [True, True, True, False]
    data = spec.to_dict()
    del data["action"]["kind"]  # a manifest written before the field existed
    old = PolicySpec.from_dict(data)
    assert old.action.kind is None and old.action.kinds == ["delta"] * 4  # the documented default
    data["action"]["kind"] = "absolute"
    assert PolicySpec.from_dict(data).action.kinds == ["absolute"] * 4


@pytest.mark.parametrize(
    "kind", ["velocity", ["delta", "delta"], ["delta", "delta", "delta", "position"], 3]
)
def test_bad_action_kind_names_the_choices(kind):
    data = default_spec("tiny", "bins").to_dict()
    data["action"]["kind"] = kind
    with pytest.raises(SpecError, match=r"action kind must be one of \('delta', 'absolute'\)"):
        PolicySpec.from_dict(data)
