"""A quantization that misses its budget never ships silently: `quantize` writes nothing (or,
with --keep-failed, a bundle marked failed), and predict/run/eval refuse such a bundle unless
--allow-failed, with which they warn; info and benchmark show the mark."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from vla_edge.cli.main import app

runner = CliRunner()
FAST = ["--calib-size", "12", "--holdout", "12", "--precision", "int8-dynamic"]
MISS = "spread=0.001,bins=1"  # no INT8 candidate of a random tiny model meets this


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def _tree(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _state() -> str:
    return ",".join(["0"] * 8)


@pytest.fixture(scope="module")
def failed(tiny_bundle, artifacts):
    out = artifacts / "cli-kept-failed"
    if not out.exists():
        r = invoke(
            "quantize", tiny_bundle("bins"), "-o", out, *FAST, "--budget", MISS, "--keep-failed"
        )
        assert r.exit_code == 0, r.output
        assert "MISSED" in r.output and "FAILED: kept with --keep-failed" in r.output
    return out


def test_a_missed_budget_exits_non_zero_and_writes_nothing(tiny_bundle, tmp_path):
    parent = tiny_bundle("bins")
    before = _tree(parent)
    r = invoke("quantize", parent, "-o", tmp_path / "q", *FAST, "--budget", MISS)
    assert r.exit_code != 0
    assert "misses the budget spread<=0.001,bins>=1" in r.output and "--keep-failed" in r.output
    assert "Traceback" not in r.output
    assert list(tmp_path.iterdir()) == [] and _tree(parent) == before


@pytest.mark.parametrize("budget", ["", " ", "spread", "spread=x", ",", "bins=0.9,bins=0.9"])
def test_an_empty_or_unparsable_budget_is_an_error_with_the_syntax(tiny_bundle, tmp_path, budget):
    r = invoke("quantize", tiny_bundle("bins"), "-o", tmp_path / "q", *FAST, "--budget", budget)
    assert r.exit_code == 1, r.output
    assert r.output.startswith("error: budget") and "Traceback" not in r.output
    assert "key=value" in r.output or "twice" in r.output
    assert not (tmp_path / "q").exists()


def test_predict_refuses_a_failed_bundle_and_allow_failed_warns(failed):
    args = ["predict", failed, "--example", "--state", _state()]
    r = invoke(*args)
    assert r.exit_code == 1 and "Traceback" not in r.output
    assert "is marked failed (quantize: " in r.output and "--allow-failed" in r.output
    r = invoke(*args, "--allow-failed", "--json")
    assert r.exit_code == 0, r.output
    assert "is marked FAILED (quantize: " in r.stderr and "because of --allow-failed" in r.stderr
    assert len(json.loads(r.stdout)["actions"]) == 4


def test_run_and_eval_refuse_a_failed_bundle(failed):
    r = invoke("run", failed, "--camera", "pattern", "--actuator", "null", "--cycles", "2")
    assert r.exit_code == 1 and "is marked failed" in r.output and "Traceback" not in r.output
    r = invoke("eval", failed, "--suite", "mt3-smoke", "--episodes", "1", "--no-record")
    assert r.exit_code == 1 and "is marked failed" in r.output and "Traceback" not in r.output
    assert "eval" not in json.loads((failed / "manifest.json").read_text())["validation"]


def test_run_with_allow_failed_warns_then_runs(failed):
    r = invoke(
        "run", failed, "--camera", "pattern", "--actuator", "null", "--cycles", "2",
        "--rate", "2", "--quiet", "--allow-failed",
    )  # fmt: skip
    assert "is marked FAILED (quantize: " in r.stderr
    assert "is marked failed (" not in r.output  # not refused


def test_info_shows_the_mark(failed):
    r = invoke("info", failed)
    assert r.exit_code == 0, r.output
    assert "FAILED quantize: " in r.output and "--allow-failed" in r.output
    info = json.loads(invoke("info", failed, "--json").stdout)
    assert info["failed"][0]["step"] == "quantize" and info["failed"][0]["reasons"]


def test_benchmark_warns_about_the_mark(failed):
    r = invoke("benchmark", failed, "--device", "orin-nano", "--json")  # estimates: no timing
    assert r.exit_code == 0, r.output
    warnings = json.loads(r.stdout)["warnings"]
    assert any("is marked FAILED (quantize: " in w for w in warnings), warnings
