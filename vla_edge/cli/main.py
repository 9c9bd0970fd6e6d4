"""Entry point of the `vla-edge` command. One handler turns VlaEdgeError into a one-line message
and an exit code; the traceback is shown only with VLA_EDGE_DEBUG=1."""

from __future__ import annotations

import importlib
import os
import sys

import typer

from vla_edge import __version__

app = typer.Typer(
    name="vla-edge",
    help="Put a trained Vision-Language-Action policy on a robot computer: export, quantize, "
    "build, benchmark, evaluate, run.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# Each module defines `register(app)`. Modules must import nothing heavy at import time.
COMMAND_MODULES = [
    "vla_edge.cli.model",
    "vla_edge.cli.export",
    "vla_edge.cli.info",
    "vla_edge.cli.predict",
    "vla_edge.cli.run",
    "vla_edge.cli.build",
    "vla_edge.cli.validate",
    "vla_edge.cli.quantize",
    "vla_edge.cli.benchmark",
    "vla_edge.cli.prune",
    "vla_edge.cli.distill",
    "vla_edge.cli.sim",
    "vla_edge.cli.train",
    "vla_edge.cli.eval",
    "vla_edge.cli.demo",
    "vla_edge.cli.deploy",
]


def _version(value: bool) -> None:
    if value:
        typer.echo(f"vla-edge {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Show the version and exit."
    ),
) -> None:
    """vla-edge command line."""


for _name in COMMAND_MODULES:
    importlib.import_module(_name).register(app)


def main() -> None:
    try:
        app(standalone_mode=True)
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        sys.exit(130)
    except Exception as exc:  # outside a command (e.g. while registering): one line, no traceback
        if os.environ.get("VLA_EDGE_DEBUG") == "1":
            raise
        from vla_edge.cli.common import one_line_error

        message, code = one_line_error(exc)
        typer.echo(f"error: {message}", err=True)
        sys.exit(code)


if __name__ == "__main__":  # pragma: no cover
    main()
