"""The CLI's one top-level handler: a VlaEdgeError is one line with its exit code; anything
else (a bug) is one line with exit 70 and no traceback, unless VLA_EDGE_DEBUG=1."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from vla_edge.cli.common import UNEXPECTED_EXIT, command
from vla_edge.errors import BundleError


def make_app() -> typer.Typer:
    app = typer.Typer()

    def fails(kind: str, output: Path | None = typer.Option(None, "--output", "-o")) -> None:
        if kind == "bundle":
            raise BundleError("bundle b is broken: re-export it")
        if kind == "bug":
            raise KeyError("file")
        if kind == "exit":
            raise typer.Exit(4)
        if kind == "memory":
            raise MemoryError("Unable to allocate 11.2 TiB for an array")

    def noop(instruction: str = typer.Option("go")) -> None:
        typer.echo(f"instruction {instruction!r}")

    def loops(cycles: int = typer.Option(1, "--cycles")) -> None:
        from vla_edge.errors import RuntimeLoopError

        raise RuntimeLoopError(f"max_cycles must be >= 1, got {cycles}")

    command(app, "loops")(loops)
    command(app, "fails")(fails)
    command(app, "noop")(noop)
    return app


def test_vla_edge_error_is_one_line_with_its_exit_code():
    r = CliRunner().invoke(make_app(), ["fails", "bundle"])
    assert r.exit_code == 1
    assert r.output.strip() == "error: bundle b is broken: re-export it"


def test_unexpected_exception_is_one_line_exit_70(monkeypatch):
    monkeypatch.delenv("VLA_EDGE_DEBUG", raising=False)
    r = CliRunner().invoke(make_app(), ["fails", "bug"])
    assert r.exit_code == UNEXPECTED_EXIT == 70
    assert r.exception is None or isinstance(r.exception, SystemExit)
    assert "Traceback" not in r.output and len(r.output.strip().splitlines()) == 1
    assert r.output.startswith("error: unexpected KeyError: 'file'")
    assert "VLA_EDGE_DEBUG=1" in r.output


def test_debug_shows_the_exception(monkeypatch):
    monkeypatch.setenv("VLA_EDGE_DEBUG", "1")
    r = CliRunner().invoke(make_app(), ["fails", "bug"])
    assert isinstance(r.exception, KeyError)


def test_typer_exits_pass_through():
    assert CliRunner().invoke(make_app(), ["fails", "exit"]).exit_code == 4


@pytest.mark.parametrize("value", ["", "."])
def test_empty_output_is_a_usage_error(value):
    r = CliRunner().invoke(make_app(), ["fails", "none", "-o", value], env={"COLUMNS": "200"})
    assert r.exit_code == 2
    assert "Invalid value for '--output' / '-o'" in r.output and "Traceback" not in r.output


def test_instruction_must_be_utf8():
    bad = b"go \xff".decode("utf-8", "surrogateescape")
    r = CliRunner().invoke(make_app(), ["noop", "--instruction", bad])
    assert r.exit_code == 1
    assert "--instruction is not valid UTF-8 text: bytes b'\\xff' at character 3" in r.output
    assert (
        CliRunner().invoke(make_app(), ["noop", "--instruction", "prends le cube"]).exit_code == 0
    )


def test_real_entry_point_with_non_utf8_argv(tmp_path):
    """The installed entry point (main()), with the raw bytes a terminal in another locale sends:
    one line naming the option, exit 1, no traceback."""
    env = {**os.environ, "LC_ALL": "C.UTF-8"}
    env.pop("VLA_EDGE_DEBUG", None)
    code = "import sys; from vla_edge.cli.main import main; sys.argv[0] = 'vla-edge'; main()"
    argv = [sys.executable, "-c", code, "predict", str(tmp_path), "--instruction", b"go \xff"]
    r = subprocess.run(argv, capture_output=True, env=env, timeout=300)
    err = r.stderr.decode("utf-8", "replace")
    assert r.returncode == 1, err
    assert "Traceback" not in err and err.startswith("error: --instruction is not valid UTF-8")


def test_a_setting_is_named_by_its_option():
    r = CliRunner().invoke(make_app(), ["loops", "--cycles", "-1"])
    assert r.exit_code == 1
    assert r.output.strip() == "error: --cycles: max_cycles must be >= 1, got -1"


def test_out_of_memory_is_an_input_error():
    r = CliRunner().invoke(make_app(), ["fails", "memory"])
    assert r.exit_code == 1 and "Traceback" not in r.output
    assert r.output.startswith("error: not enough memory for what was asked (Unable to allocate")
