"""`vla-edge demo` (the README's first command) runs to completion on the shipped policy."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from vla_edge.deps import available
from vla_edge.sim.quickstart import DEFAULT_POLICY, shipped_policies

pytestmark = [
    pytest.mark.sim,
    pytest.mark.slow,
    pytest.mark.skipif(not available("metaworld"), reason="needs the [sim] extra (metaworld)"),
]


def test_shipped_policies_are_small_and_documented():
    from vla_edge.sim.quickstart import POLICIES

    assert DEFAULT_POLICY in shipped_policies()
    for name in shipped_policies():
        folder = POLICIES / name
        assert (folder / "model.safetensors").stat().st_size < 20e6
        assert (folder / "README.md").is_file() and (folder / "eval_onnxrt.json").is_file()


def test_demo_runs(tmp_path):
    from vla_edge.cli.main import app

    args = ["demo", "-o", str(tmp_path), "--task", "drawer-open", "--json"]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert out["eval"]["episodes"] == 1 and out["bundle_mb"] > 0
    assert out["eval"]["suite"] == "mt3-vision-smoke"  # the vision policy's quick suite
    assert out["recorded"]["suite"] == "mt10-vision" and out["recorded"]["ablations"]
    assert (tmp_path / f"{DEFAULT_POLICY}-episodes.png").is_file()
