"""Budgets, sensitivity, mixed precision, the task gate and the CLI."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from vla_edge.bundle import Bundle
from vla_edge.cli.main import app
from vla_edge.compress.quantize import Budget, QuantizeConfig, quantize
from vla_edge.errors import ParityError, QuantizationError

FAST = dict(calib_size=16, holdout=16)


@pytest.fixture(scope="module")
def spec(tiny_bundle):
    return Bundle.load(tiny_bundle("bins")).spec


def test_budget_parse(spec):
    b = Budget.parse("bins=0.98, dx=0.002,range=0.05", spec)
    assert b.identical_bins == 0.98 and b.error == {"dx": 0.002} and b.range_fraction == 0.05
    with pytest.raises(QuantizationError, match=r"unknown budget term 'dq'.*\['dx'"):
        Budget.parse("dq=0.1", spec)
    with pytest.raises(QuantizationError, match="not a number"):
        Budget.parse("dx=small", spec)
    with pytest.raises(QuantizationError, match=r"fraction in \[0, 1\]"):
        Budget.parse("bins=99", spec)
    with pytest.raises(QuantizationError, match="key=value"):
        Budget.parse("0.99", spec)


def test_bins_budget_refused_for_continuous_head(tiny_bundle):
    cont = Bundle.load(tiny_bundle("continuous")).spec
    with pytest.raises(QuantizationError, match="bins heads"):
        Budget.parse("bins=0.99", cont)


def test_config_validation():
    with pytest.raises(QuantizationError, match="precision must be one of"):
        QuantizeConfig(precision="int4")
    with pytest.raises(QuantizationError, match="calib_method"):
        QuantizeConfig(calib_method="kl")
    with pytest.raises(QuantizationError, match="calib_size"):
        QuantizeConfig(calib_size=0)


def test_explicit_budget_missed_raises_and_writes_nothing(tiny_bundle, tmp_path, spec):
    cfg = QuantizeConfig(precision="int8", budget=Budget.parse("bins=1.0,dx=1e-9", spec), **FAST)
    with pytest.raises(ParityError, match=r"misses the budget.*--precision mixed"):
        quantize(tiny_bundle("bins"), tmp_path / "q", cfg)
    assert not (tmp_path / "q").exists()


@pytest.fixture(scope="module")
def mixed_bundle(tiny_bundle, tmp_path_factory, spec):
    out = tmp_path_factory.mktemp("mixed") / "m"
    budget = Budget.parse("bins=0.995", spec)
    return quantize(tiny_bundle("bins"), out, QuantizeConfig("mixed", budget=budget, **FAST))


def test_mixed_meets_the_budget(mixed_bundle):
    val = mixed_bundle.manifest["validation"]
    q = val["quantization"]
    assert q["passed"] and q["identical_bins"] >= 0.995
    rows = json.loads((mixed_bundle.path / val["sensitivity"]["json"]).read_text())
    from vla_edge.compress.quantize.sensitivity import ranking as rank

    ranking = rank(rows, Budget(identical_bins=0.995))  # bins budget: ranked by flipped bins
    assert ranking[0] == min(rows, key=lambda r: r["identical_bins"])["name"]
    floats = val["mixed"]["float_groups"]
    assert floats == ranking[: len(floats)]  # the most sensitive went back to float
    assert set(val["mixed"]["int8_groups"]) == set(ranking) - set(floats)
    trials = val["mixed"]["trials"]
    assert any(t["passed"] and t["float_layers"] == len(floats) for t in trials)
    assert all(not t["passed"] for t in trials if t["float_layers"] < len(floats))
    g = mixed_bundle.graph("policy")
    assert g["precision"] == "mixed" and set(g["quantization"]["float_layers"]) == set(floats)
    cost = q["cost"]
    assert cost["int8 (all layers)"]["bytes"] <= cost["mixed"]["bytes"] < cost["fp32"]["bytes"]


def test_sensitivity_report(mixed_bundle):
    val = mixed_bundle.manifest["validation"]["sensitivity"]
    rows = json.loads((mixed_bundle.path / val["json"]).read_text())
    scores = [r["score"] for r in rows]
    assert scores == sorted(scores, reverse=True)
    n_layers = mixed_bundle.graph("policy")["quantization"]["weighted_layers"]
    assert len(rows) == n_layers
    assert all(set(r["p99_error"]) == {"dx", "dy", "dz", "gripper"} for r in rows)
    md = (mixed_bundle.path / val["markdown"]).read_text()
    assert "| layer |" in md and rows[0]["name"] in md
    if "plot" in val:
        assert (mixed_bundle.path / val["plot"]).read_bytes()[:4] == b"\x89PNG"


def test_block_granularity(tiny_bundle, tmp_path):
    cfg = QuantizeConfig(
        "int8", sensitivity=True, granularity="block", budget=Budget(spread=1e3), **FAST
    )
    b = quantize(tiny_bundle("bins"), tmp_path / "b", cfg)
    rows = json.loads((b.path / "reports/sensitivity.json").read_text())
    names = {r["name"] for r in rows}
    assert "head" in names and "vision.0" in names
    assert all(len(r["layers"]) >= 1 for r in rows)


def test_task_gate_skipped_without_sim(tiny_bundle, tmp_path, monkeypatch):
    from vla_edge.compress.quantize import taskgate

    monkeypatch.setattr(taskgate, "_evaluator", lambda: (None, "no sim here"))
    cfg = QuantizeConfig("fp16", eval_suite="mt3-smoke", **FAST)
    b = quantize(tiny_bundle("bins"), tmp_path / "h", cfg)
    assert Bundle.load(b.path).manifest["validation"]["task"] == {
        "suite": "mt3-smoke",
        "skipped": "no sim here",
    }


def test_task_gate_records_success_beside_parent(tiny_bundle, tmp_path, monkeypatch):
    from vla_edge.compress.quantize import taskgate

    calls = []

    def fake(path, suite, episodes, backend, seed, progress):
        calls.append(path)
        rate = 0.8 if "h" in path.rsplit("/", 1)[-1] else 0.9
        return {"success_rate": rate, "episodes": episodes, "tasks": {"t": {"success_rate": rate}}}

    monkeypatch.setattr(taskgate, "_evaluator", lambda: (fake, None))
    cfg = QuantizeConfig("fp16", eval_suite="mt3-smoke", eval_episodes=5, **FAST)
    b = quantize(tiny_bundle("bins"), tmp_path / "h", cfg)
    task = Bundle.load(b.path).manifest["validation"]["task"]  # hashes still check
    assert task["success_rate"] == 0.8 and task["parent_success_rate"] == 0.9
    assert task["delta_points"] == -10.0 and task["episodes_per_task"] == 5
    assert task["tasks"] == {"t": 0.8} and len(calls) == 2


def test_cli_quantize_json_and_errors(tiny_bundle, tmp_path):
    runner = CliRunner()
    args = ["quantize", str(tiny_bundle("bins")), "-o", str(tmp_path / "q")]
    r = runner.invoke(app, [*args, "--precision", "fp16", "--calib-size", "8", "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert out["graphs"][0]["precision"] == "fp16" and "quantization" in out["validation"]
    r = runner.invoke(app, [*args, "--force", "--precision", "int3"])
    assert r.exit_code == 1 and "precision must be one of" in r.output
    r = runner.invoke(app, [*args, "--force", "--calib", str(tmp_path / "missing")])
    assert r.exit_code == 1 and "does not exist" in r.output
    r = runner.invoke(app, [*args, "--force", "--budget", "wobble=1"])
    assert r.exit_code == 1 and "unknown budget term" in r.output


def test_mixed_stops_at_all_int8_when_it_fits(tiny_bundle, tmp_path, spec):
    cfg = QuantizeConfig("mixed", budget=Budget.parse("bins=0.5", spec), **FAST)
    val = quantize(tiny_bundle("bins"), tmp_path / "m", cfg).manifest["validation"]
    assert val["mixed"]["float_groups"] == [] and len(val["mixed"]["trials"]) == 1
    assert "sensitivity" not in val  # not measured: nothing had to go back to float
