"""The runtime as a robot gets it: the wheel built from this checkout, installed into a fresh
venv that has no torch and no transformers, runs `predict --example` and the camera-to-actuator
loop with a video-file camera and the file actuator."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from vla_edge.deploy.wheel import local_wheel


def _video(path, n=12, size=(64, 64)):
    cv2 = pytest.importorskip("cv2")
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30, size)
    for i in range(n):
        frame = np.full((size[1], size[0], 3), (i * 20) % 256, np.uint8)
        writer.write(frame)
    writer.release()
    return path


@pytest.mark.slow
def test_runtime_wheel_runs_in_a_fresh_venv_without_torch(
    tmp_path, tiny_bundle, deploy_cache, monkeypatch
):
    monkeypatch.setenv("XDG_CACHE_HOME", str(deploy_cache))  # not the user's cache
    clip = _video(tmp_path / "clip.avi")
    wheel = local_wheel()
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q"]
    out = subprocess.run([*pip, f"{wheel.path}[camera]"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-3000:]

    probe = "import importlib.util as u; print([m for m in ('torch', 'transformers') if u.find_spec(m)])"  # noqa: E501
    found = subprocess.run(
        [str(venv / "bin" / "python"), "-c", probe], capture_output=True, text=True
    )
    assert found.stdout.strip() == "[]", found

    cli = str(venv / "bin" / "vla-edge")
    bundle = str(tiny_bundle("bins"))
    pred = subprocess.run(
        [cli, "predict", bundle, "--example", "--json"], capture_output=True, text=True
    )
    assert pred.returncode == 0, pred.stderr[-3000:]
    assert np.asarray(json.loads(pred.stdout)["actions"]).shape == (4, 4)

    actions = tmp_path / "actions.jsonl"
    args = [
        "run",
        bundle,
        "--camera",
        f"front={clip}",
        "--actuator",
        f"file:{actions}",
        "--instruction",
        "open the drawer",
        "--state",
        "mean",
        "--rate",
        "20",
        "--cycles",
        "6",
        "--quiet",
        "--profile",
        str(tmp_path / "profile"),
        "--json",
    ]
    run = subprocess.run([cli, *args], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    lines = [json.loads(line) for line in actions.read_text().splitlines()]
    summary = json.loads((tmp_path / "profile" / "summary.json").read_text())
    assert summary["cycles"] == 6 and "matplotlib" in summary["plot_error"]  # no plot, no crash
    assert len(lines) >= 6 and all(len(rec["action"]) == 4 for rec in lines), lines[:2]

    export = subprocess.run(
        [cli, "export", bundle, "-o", str(tmp_path / "x")], capture_output=True, text=True
    )
    assert export.returncode == 1 and "vla-edge[export]" in export.stderr, export.stderr[-2000:]
