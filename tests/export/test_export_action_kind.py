"""`export --action-kind` records what the actions mean in the bundle's spec (the manifest is
hashed, so this is where a kind is declared after training)."""

import json

from typer.testing import CliRunner

from vla_edge.bundle import Bundle
from vla_edge.cli.main import app


def test_export_records_the_action_kind(tiny_checkpoint, tmp_path):
    ck = tiny_checkpoint("continuous")
    r = CliRunner().invoke(app, ["export", str(ck), "-o", str(tmp_path / "b"),
                                 "--action-kind", "absolute", "--no-source"])  # fmt: skip
    assert r.exit_code == 0, r.output
    spec = Bundle.load(tmp_path / "b").spec
    assert spec.action.kind == "absolute" and spec.action.kinds == ["absolute"] * 4
    manifest = json.loads((tmp_path / "b" / "manifest.json").read_text())
    assert manifest["spec"]["action"]["kind"] == "absolute"


def test_export_refuses_a_kind_of_the_wrong_size_writing_nothing(tiny_checkpoint, tmp_path):
    ck = tiny_checkpoint("continuous")
    args = ["export", str(ck), "-o", str(tmp_path / "b"), "--action-kind", "delta,absolute"]
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 1 and "--action-kind: action kind must be one of" in r.output
    assert "a list of 4 of them" in r.output and "Traceback" not in r.output
    assert not (tmp_path / "b").exists()


def test_info_shows_each_dimension_kind(tiny_bundle):
    r = CliRunner().invoke(app, ["info", str(tiny_bundle("bins"))])
    assert r.exit_code == 0, r.output
    text = " ".join(r.output.split())
    assert "dx [-0.05, 0.05] m delta" in text and "gripper [0, 1] 1 absolute" in text
