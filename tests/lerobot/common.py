"""Shared by the per-policy LeRobot test modules: one export per policy type per module."""

from __future__ import annotations

import json

from typer.testing import CliRunner


def export_json(src, out, *extra) -> dict:
    """`vla-edge export SRC -o OUT --json`: the parsed report (asserts exit code 0)."""
    from vla_edge.cli.main import app

    res = CliRunner().invoke(app, ["export", str(src), "-o", str(out), "--json", *extra])
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def manifest(bundle) -> dict:
    return json.loads((bundle / "manifest.json").read_text())
