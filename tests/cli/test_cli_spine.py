import json

import numpy as np
import pytest
from typer.testing import CliRunner

from vla_edge.cli.main import app

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.mark.parametrize("head", ["bins", "continuous", "flow"])
def test_create_export_info_predict(tmp_path, head):
    ck, b = tmp_path / "ck", tmp_path / "b"
    r = invoke("model", "create", "--preset", "tiny", "--head", head, "-o", ck)
    assert r.exit_code == 0, r.output
    r = invoke("export", ck, "-o", b)
    assert r.exit_code == 0, r.output
    assert "PASS" in r.output
    r = invoke("info", b, "--json")
    info = json.loads(r.output)
    assert info["spec"]["action"]["representation"] == head
    assert info["validation"]["parity"]["passed"]
    img = tmp_path / "f.npy"
    np.save(img, np.zeros((64, 64, 3), np.uint8))
    r = invoke(
        "predict",
        b,
        "--image",
        f"front={img}",
        "--instruction",
        "open the drawer",
        "--state",
        ",".join(["0"] * 8),
        "--json",
    )
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert np.asarray(out["actions"]).shape == (4, 4)
    assert out["names"] == ["dx", "dy", "dz", "gripper"]


def test_monolithic_and_torch_backend(tmp_path, tiny_checkpoint):
    b = tmp_path / "b"
    assert invoke("export", tiny_checkpoint("bins"), "-o", b, "--monolithic").exit_code == 0
    img = tmp_path / "f.npy"
    np.save(img, np.zeros((64, 64, 3), np.uint8))
    r = invoke(
        "predict", b, "--image", img, "--instruction", "go", "--state", "mean", "--backend", "torch"
    )
    assert r.exit_code == 0, r.output and "action chunk (torch" in r.output


def test_errors_are_one_line_with_exit_code(tmp_path, tiny_bundle):
    r = invoke("info", tmp_path / "missing")
    assert r.exit_code == 1
    assert "error: no bundle at" in r.output and "Traceback" not in r.output
    img = tmp_path / "f.npy"
    np.save(img, np.zeros((32, 32, 3), np.uint8))
    r = invoke(
        "predict", tiny_bundle("bins"), "--image", img, "--instruction", "go", "--state", "mean"
    )
    assert r.exit_code == 1 and "expected an image of shape [64, 64, 3]" in r.output
    r = invoke("predict", tiny_bundle("bins"), "--image", f"wrist={img}", "--instruction", "go")
    assert "unknown camera 'wrist'" in r.output


def test_export_refuses_existing_output(tmp_path, tiny_checkpoint, tiny_bundle):
    r = invoke("export", tiny_checkpoint("bins"), "-o", tiny_bundle("bins"))
    assert r.exit_code == 1 and "already exists" in r.output
