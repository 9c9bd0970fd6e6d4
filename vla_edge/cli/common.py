"""Options shared by several commands, as Annotated aliases, and printing helpers."""

from __future__ import annotations

import json
import re
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


def check_output(value: object) -> None:
    """Every command's `output` (--output/-o) must name a path: typer reads `-o ""` as `.`, the
    current directory, which no command should write its output into or replace."""
    if isinstance(value, Path) and str(value) in ("", "."):
        raise typer.BadParameter(
            f"expected a path to write to, got {str(value)!r} (an empty path, or the current "
            "directory); name a new directory, e.g. -o exports/my-policy",
            param_hint="'--output' / '-o'",
        )


def fraction(param: typer.CallbackParam, value: float | None) -> float | None:
    """Callback of an option that is a fraction in [0, 1] (e.g. --min-bins 0.99)."""
    if value is not None and not 0.0 <= value <= 1.0:
        raise typer.BadParameter(
            f"expected a fraction between 0 and 1 (e.g. 0.99 for 99%), got {value:g}"
        )
    return value


def open_fraction(param: typer.CallbackParam, value: float | None) -> float | None:
    """Callback of an option that is a fraction in (0, 1), such as a tolerance relative to a
    range: 0 and negative values can never be met, 1 or more would accept anything."""
    if value is not None and not 0.0 < value < 1.0:
        raise typer.BadParameter(
            f"expected a fraction greater than 0 and less than 1 (e.g. 1e-3 for 0.1% of each "
            f"action dimension's range), got {value:g}"
        )
    return value


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


UNEXPECTED_EXIT = 70  # EX_SOFTWARE: vla-edge met something it has no clear message for


def handle_errors(fn):
    """Wrap a command: a VlaEdgeError becomes `error: <message>` on stderr and its exit code.
    Anything else is a bug (bad input must always end in a VlaEdgeError that says what was
    expected, what was found and how to fix it): it is printed in one line, without a
    traceback, with exit code 70. With VLA_EDGE_DEBUG=1 every exception propagates with its
    traceback."""
    import functools
    import os

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        check_output(kwargs.get("output"))
        try:
            if isinstance(kwargs.get("instruction"), str):
                from vla_edge.policy.tokenizer import check_instruction

                check_instruction(kwargs["instruction"], "--instruction")
            return fn(*args, **kwargs)
        except (typer.Exit, typer.Abort, typer.TyperException):
            raise  # Typer's own exits and usage errors print themselves
        except Exception as exc:
            if os.environ.get("VLA_EDGE_DEBUG") == "1":
                raise
            err, code = one_line_error(exc)
            typer.echo(f"error: {name_the_option(err, fn, kwargs)}", err=True)
            raise typer.Exit(code) from None

    return wrapper


# a library setting named in an error message -> the command's parameter that sets it
FIELD_PARAMS = {
    "max_cycles": "cycles",
    "duration_s": "duration",
    "rate_hz": "rate",
    "encoder_precision": "encoder",
    "min_identical_bins": "min_bins",
    "action_atol_fraction": "atol",
    "action chunk": "chunk",
    "action representation": "head",
}
_FIELD = re.compile(r"^([a-z][a-z0-9_-]*(?: [a-z][a-z0-9_-]*)?) must ")


def name_the_option(message: str, fn, kwargs: dict) -> str:
    """Prefix a library message about a setting ("max_cycles must be >= 1, got -1") with the
    command-line option that set it (`--cycles: ...`), so the user knows what to change."""
    m = _FIELD.match(message)
    if m is None:
        return message
    field = m.group(1)
    param = FIELD_PARAMS.get(field, field.replace("-", "_"))
    if param not in kwargs:
        return message
    return f"{_flag(fn, param)}: {message}"


def _flag(fn, param: str) -> str:
    """The option's first long name as the command declares it (default: --param-name)."""
    import typing

    try:
        hint = typing.get_type_hints(fn, include_extras=True).get(param)
    except Exception:  # noqa: BLE001 - only a nicer name is at stake
        hint = None
    for info in getattr(hint, "__metadata__", ()):
        for decl in getattr(info, "param_decls", None) or ():
            if decl.startswith("--"):
                return decl.split("/")[0]
    return "--" + param.replace("_", "-")


def one_line_error(exc: Exception) -> tuple[str, int]:
    """The one-line message and exit code of an exception that ends a command."""
    from vla_edge.deps import missing_module_error
    from vla_edge.errors import VlaEdgeError

    if isinstance(exc, VlaEdgeError):
        return str(exc), exc.exit_code
    if isinstance(exc, ModuleNotFoundError) and (dep := missing_module_error(exc)) is not None:
        return str(dep), dep.exit_code
    if isinstance(exc, MemoryError):  # sizes from the command line (samples, batch, frames)
        return (
            f"not enough memory for what was asked ({exc or 'MemoryError'}); ask for less: "
            "fewer samples or frames, a smaller batch or image size",
            1,
        )
    text = " ".join(str(exc).split()) or "(no message)"
    return (
        f"unexpected {type(exc).__name__}: {text}. This is a bug in vla-edge (bad input should "
        "get a clear message): please report it with the command you ran; VLA_EDGE_DEBUG=1 "
        "shows the traceback",
        UNEXPECTED_EXIT,
    )


def command(app: typer.Typer, name: str | None = None, **kwargs):
    """`@command(app, "export")` registers a function as a command with the shared error handler."""

    def decorator(fn):
        app.command(name, **kwargs)(handle_errors(fn))
        return fn

    return decorator
