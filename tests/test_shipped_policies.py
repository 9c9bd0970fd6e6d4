"""The shipped vision policies' recorded evaluations (no simulator needed): every `mt10-vision-bins`
variant, the teacher and its students, is evaluated on the same suite, episodes and seeds, records
its own all-black-frames ablation, and needs its camera (at least 30 points lower blind), so that
no student can win the Pareto by ignoring the camera; each README quotes its recorded figures."""

from __future__ import annotations

import json

import pytest

from vla_edge.sim.quickstart import POLICIES, shipped_policies

VISION_BINS = [n for n in shipped_policies() if n.startswith("mt10-vision-bins")]


def _eval(name: str) -> dict:
    return json.loads((POLICIES / name / "eval_onnxrt.json").read_text())


def test_the_teacher_and_its_students_are_shipped():
    assert "mt10-vision-bins" in VISION_BINS and len(VISION_BINS) >= 3


@pytest.mark.parametrize("name", VISION_BINS)
def test_a_vision_bins_policy_is_evaluated_on_the_teachers_seeds_and_needs_its_camera(name):
    teacher, rec = _eval("mt10-vision-bins"), _eval(name)
    for key in ("suite", "episodes_per_task", "seeds", "episodes"):
        assert rec[key] == teacher[key], key
    black = rec["ablations"]["vision-black"]
    assert black["episodes"] == rec["episodes"]
    assert rec["success_rate"] - black["success_rate"] >= 0.30
    readme = (POLICIES / name / "README.md").read_text()
    assert f"{rec['successes']}/{rec['episodes']}" in readme
    assert f"{black['successes']}/{black['episodes']}" in readme
