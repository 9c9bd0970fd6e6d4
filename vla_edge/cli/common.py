"""Options shared by several commands, as Annotated aliases, and printing helpers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

console = Console()
err_console = Console(stderr=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON to stdout.")]
BundleArg = Annotated[Path, typer.Argument(help="Bundle directory (made by `vla-edge export`).")]
ForceOpt = Annotated[bool, typer.Option("--force", help="Replace the output if it exists.")]
BackendOpt = Annotated[
    str, typer.Option("--backend", help="Inference backend: onnxrt | torch | trt.")
]


def print_json(data: Any) -> None:
    """Print JSON to stdout without rich markup, so scripts can parse it."""
    typer.echo(json.dumps(data, indent=2, default=_default))


def _default(obj: Any) -> Any:
    try:
        import numpy as np

        if isinstance(obj, np.generic):
            return obj.item()
        if isinstance(obj, np.ndarray):
            return obj.tolist()
    except ImportError:  # pragma: no cover
        pass
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serializable: {type(obj).__name__}")


def handle_errors(fn):
    """Wrap a command: a VlaEdgeError becomes `error: <message>` on stderr and its exit code.
    With VLA_EDGE_DEBUG=1 the exception propagates with its traceback."""
    import functools
    import os

    from vla_edge.deps import missing_module_error
    from vla_edge.errors import VlaEdgeError

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (VlaEdgeError, ModuleNotFoundError) as exc:
            if os.environ.get("VLA_EDGE_DEBUG") == "1":
                raise
            err = exc if isinstance(exc, VlaEdgeError) else missing_module_error(exc)
            if err is None:  # not an optional dependency: a bug, keep the traceback
                raise
            typer.echo(f"error: {err}", err=True)
            raise typer.Exit(err.exit_code) from None

    return wrapper


def command(app: typer.Typer, name: str | None = None, **kwargs):
    """`@command(app, "export")` registers a function as a command with the shared error handler."""

    def decorator(fn):
        app.command(name, **kwargs)(handle_errors(fn))
        return fn

    return decorator
