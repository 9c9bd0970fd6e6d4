"""`vla-edge benchmark` through Typer's CliRunner on a tiny bundle made by the CLI."""

import json

import pytest
from typer.testing import CliRunner

from vla_edge.cli.main import app

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def cli_bundle(tmp_path_factory):
    root = tmp_path_factory.mktemp("bench-cli")
    ck, b = root / "CK", root / "B"
    assert invoke("model", "create", "--preset", "tiny", "-o", ck).exit_code == 0
    r = invoke("export", ck, "-o", b)
    assert r.exit_code == 0, r.output
    return b


def test_orin_is_a_labelled_estimate_for_three_devices(cli_bundle):
    r = invoke("benchmark", cli_bundle, "--device", "orin", "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert out["mode"] == "estimate" and out["measured"] is None
    devices = {e["device"] for e in out["estimates"]}
    assert devices == {"orin-agx-64gb", "orin-nx-16gb", "orin-nano-8gb"}
    assert all(e["kind"] == "estimate" for e in out["estimates"])
    assert {e["precision"] for e in out["estimates"]} == {"fp32", "fp16", "int8"}
    assert all(e["bottleneck_layers"] and e["per_frame_ms"] > 0 for e in out["estimates"])
    fits = {(f["device"], f["precision"]): f for f in out["fits"]}
    assert fits[("orin-nano-4gb", "fp32")]["verdict"] == "fits"  # a 0.3M-parameter model
    assert all(f["kind"] == "estimate" for f in out["fits"])


def test_orin_text_output_says_estimate(cli_bundle):
    r = invoke("benchmark", cli_bundle, "--device", "orin-nano")
    assert r.exit_code == 0, r.output
    assert "ESTIMATE (roofline model, not a measurement)" in r.output
    assert "MEASURED" not in r.output
    assert "Jetson Orin Nano 8GB" in r.output and "FITS" in r.output


def test_host_measures_and_writes_reports(cli_bundle, tmp_path):
    rep = tmp_path / "rep"
    args = ["--iterations", 6, "--warmup", 1, "--rounds", 2, "--report", rep]
    r = invoke("benchmark", cli_bundle, "--device", "host", *args)
    assert r.exit_code == 0, r.output
    assert "MEASURED on host CPU" in r.output and "ESTIMATOR ERROR" in r.output
    report = json.loads((rep / "report.json").read_text())
    (variant,) = report["measured"]["variants"]
    assert variant["kind"] == "measured" and variant["reference"]
    assert len(variant["times_ms"]) == 6
    assert report["estimates"][0]["kind"] == "estimate"
    assert report["estimator_error"][0]["measured_p50_ms"] == variant["latency_ms"]["p50"]
    md = (rep / "report.md").read_text()
    assert "## MEASURED on host CPU" in md and "## ESTIMATE" in md
    assert (rep / "latency.png").stat().st_size > 0
    assert (rep / "accuracy_vs_latency.png").stat().st_size > 0


def test_unknown_device_and_missing_gpu_are_one_line_errors(cli_bundle):
    r = invoke("benchmark", cli_bundle, "--device", "tx2")
    assert r.exit_code == 1 and "unknown device 'tx2'" in r.output
    r = invoke("benchmark", cli_bundle, "--device", "cuda")
    assert r.exit_code == 1 and "no NVIDIA GPU was found" in r.output
