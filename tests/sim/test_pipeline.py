"""End to end on mt3-smoke, as CI runs it: demos -> train a few hundred steps -> export ->
closed-loop eval on both backends, through the CLI."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from vla_edge.deps import available

pytestmark = [
    pytest.mark.sim,
    pytest.mark.slow,
    pytest.mark.skipif(not available("metaworld"), reason="needs the [sim] extra (metaworld)"),
]


def _run(args: list[str]) -> dict:
    from vla_edge.cli.main import app

    res = CliRunner().invoke(app, [*args, "--json"])
    assert res.exit_code == 0, res.output
    return json.loads(res.output)


def test_demos_train_export_eval(tmp_path):
    data, ck, bundle = tmp_path / "demos", tmp_path / "ck", tmp_path / "bundle"
    _run(["sim", "demos", "--suite", "mt3-smoke", "--episodes", "2", "-o", str(data)])
    train = [
        "train",
        "--data",
        str(data),
        "-o",
        str(ck),
        "--preset",
        "tiny",
        "--head",
        "bins",
        "--steps",
        "300",
        "--batch",
        "32",
        "--lr",
        "1e-3",
        "--threads",
        "1",
    ]
    summary = _run(train)
    assert summary["steps"] == 300 and summary["final_loss"] < 5.0
    _run(["export", str(ck), "-o", str(bundle)])
    runs = {}
    for backend, path in (("torch", ck), ("onnxrt", bundle)):
        runs[backend] = _run(
            [
                "eval",
                str(path),
                "--suite",
                "mt3-smoke",
                "--episodes",
                "1",
                "--backend",
                backend,
                "--task",
                "drawer-close",
                "--threads",
                "1",
                *(["--ablate", "state"] if backend == "onnxrt" else []),
            ]
        )
    for report in runs.values():
        assert report["episodes"] == 1 and report["latency_ms"]["predictions"] > 0
    ablated = runs["onnxrt"]["ablations"]["state-mean"]
    assert ablated["episodes"] == 1 and "ablations" not in runs["torch"]
    recorded = json.loads((bundle / "manifest.json").read_text())["validation"]["eval"]
    assert recorded["mt3-smoke"]["ablations"]["state-mean"] == ablated
    _run(["info", str(bundle)])  # the bundle still verifies after recording


def test_vision_smoke_end_to_end(tmp_path):
    """mt3-vision-smoke as CI runs it: two-camera demos -> the pretrained encoder, frozen and
    cached -> export -> closed loop with the vision ablation beside the plain result."""
    pytest.importorskip("efficientnet_lite_pytorch", reason="needs the [vision] extra")
    data, ck, bundle = tmp_path / "demos", tmp_path / "ck", tmp_path / "bundle"
    demos = ["sim", "demos", "--suite", "mt3-vision-smoke", "--episodes", "1", "-o", str(data)]
    _run([*demos, "--image-size", "32"])
    sets = ["vision_encoder=efficientnet-lite0", "hidden_size=32", "vision_layers=0"]
    train = ["train", "--data", str(data), "-o", str(ck), "--preset", "tiny", "--steps", "30"]
    train += ["--batch", "16", "--threads", "1", *[a for s in sets for a in ("--set", s)]]
    summary = _run(train)
    assert summary["vision"] == "cached frozen-trunk features"
    _run(["export", str(ck), "-o", str(bundle)])
    ev = ["eval", str(bundle), "--suite", "mt3-vision-smoke", "--episodes", "1", "--threads", "1"]
    report = _run([*ev, "--task", "drawer-open", "--ablate", "vision-black"])
    assert report["episodes"] == 1 and report["latency_ms"]["predictions"] > 0
    assert report["ablations"]["vision-black"]["episodes"] == 1
