"""benchmarks/pareto_report.py's reuse of recorded results: a row's success from a recorded
`vla-edge eval` report (checked to be the same suite, episodes and seeds, with the ablations the
row needs) and a row quoted from an earlier run, labelled, with its own run's speed-up."""

from __future__ import annotations

import argparse
import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "pareto_report.py"
POLICIES = ROOT / "vla_edge" / "assets" / "policies"


def _module():
    spec = importlib.util.spec_from_file_location("pareto_report", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _args(**kw):
    base = {"suite": "mt10-vision", "episodes": 10, "ablate": ["vision-black"]}
    return argparse.Namespace(**{**base, **kw})


def test_success_from_a_recorded_eval_report_keeps_its_figures_and_ablation():
    pr = _module()
    report = POLICIES / "mt10-vision-bins-48px" / "eval_onnxrt.json"
    recorded = json.loads(report.read_text())
    out = pr.recorded_success(report, _args(), ["vision-black"])
    assert out["rate"] == recorded["success_rate"] and out["episodes"] == recorded["episodes"]
    assert out["from"] == str(report)
    black = recorded["ablations"]["vision-black"]
    assert out["ablations"]["vision-black"]["rate"] == black["success_rate"]
    assert sum(r * 10 for r in out["tasks"].values()) == pytest.approx(recorded["successes"])


def test_success_from_refuses_another_protocol_or_a_missing_ablation(tmp_path):
    pr = _module()
    report = POLICIES / "mt10-vision-bins-48px" / "eval_onnxrt.json"
    with pytest.raises(SystemExit, match="episodes per task"):
        pr.recorded_success(report, _args(episodes=3), [])
    with pytest.raises(SystemExit, match="lacks the ablation"):
        pr.recorded_success(report, _args(), ["language-empty"])
    other = json.loads(report.read_text())
    other["seeds"] = "eval seeds from 100007 (demos use < 100000)"
    (tmp_path / "r.json").write_text(json.dumps(other))
    with pytest.raises(SystemExit, match="seeds"):
        pr.recorded_success(tmp_path / "r.json", _args(), [])


def test_a_quoted_row_is_labelled_with_its_own_runs_speedup(tmp_path):
    pr = _module()
    row = {
        "name": "pruned",
        "parameters": 10,
        "per_frame_parameters": 8,
        "graph_mb": 1.0,
        "precision": "fp32",
        "sparsity": None,
        "p50_ms": 5.0,
        "graph_p50_ms": 4.0,
        "orin_ms": None,
        "gap_pct": 1.5,
        "success": {"rate": 0.5, "episodes": 100, "tasks": {}},
    }
    earlier = {"rows": [{**row, "name": "teacher", "p50_ms": 10.0}, row]}
    (tmp_path / "old.json").write_text(json.dumps(earlier))
    quoted = pr.quoted_row("pruned", tmp_path / "old.json")
    assert quoted["quoted"]["speedup"] == pytest.approx(2.0)
    now = {**row, "name": "teacher", "p50_ms": 3.0, "success": {"rate": 0.7}}
    line = pr._row(quoted, now)
    assert "pruned *(quoted)*" in line and "| 2.00x |" in line and "-20 pts" in line
    with pytest.raises(SystemExit, match="expected rows"):
        pr.quoted_row("student", tmp_path / "old.json")
