"""Output directories that lose nothing: what `--force` may replace, and atomic replacement.

Every command that writes a directory (a bundle or a checkpoint) goes through here:

- `check_output` runs before any work: an existing output is replaced only with `--force`, and
  only when it is a vla-edge bundle or checkpoint (or empty) that is not an input of the same
  command; anything else is refused, naming what it holds.
- `PartialDir` is where the new directory is written: a hidden sibling
  `.NAME.partial-<pid>-<rand>`, removed on any failure, on KeyboardInterrupt and on SIGTERM.
  `commit` renames the old directory aside, the new one into place, and removes the old one
  only afterwards. Partial directories left by a killed process (SIGKILL, power loss) are
  removed the next time something is written to the same place.
"""

from __future__ import annotations

import atexit
import json
import os
import re
import secrets
import shutil
import signal
import sys
import threading
from collections.abc import Iterable
from pathlib import Path

from vla_edge.errors import OutputError

_ACTIVE: set[Path] = set()
_LOCK = threading.Lock()
_PREVIOUS_HANDLER: list = []
_STALE = re.compile(r"^\.(?P<name>.+)\.(?P<kind>partial|old)-(?P<pid>\d+)-[0-9a-f]+$")


# --- what is there ----------------------------------------------------------------------------
def describe(path: Path, limit: int = 5) -> str:
    """`NOTES.txt, data/` (the first few entries of a directory, directories with a slash)."""
    names = sorted(e.name + ("/" if e.is_dir() else "") for e in Path(path).iterdir())
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _manifest(path: Path) -> dict | None:
    try:
        data = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if isinstance(data, dict) and "files" in data and "format_version" in data:
        return data
    return None


def _is_checkpoint(path: Path) -> bool:
    from vla_edge.backends.torch.loader import FAMILIES

    try:
        config = json.loads((path / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(config, dict) and config.get("model_type") in FAMILIES


def kind_of(path: Path, leftovers: Iterable[str] = ()) -> str | None:
    """'vla-edge bundle', 'vla-edge checkpoint', 'empty directory', or None (someone else's)."""
    path = Path(path)
    names = {e.name for e in path.iterdir()}
    if not names - set(leftovers):
        return "empty directory"
    if _manifest(path) is not None:
        return "vla-edge bundle"
    if _is_checkpoint(path):
        return "vla-edge checkpoint"
    return None


def _not_in_bundle(path: Path) -> list[str]:
    """Top-level entries of a bundle directory that its manifest does not list."""
    manifest = _manifest(path) or {}
    listed = {"manifest.json"} | {rel.split("/")[0] for rel in manifest.get("files", {})}
    return sorted(
        e.name + ("/" if e.is_dir() else "")
        for e in path.iterdir()
        if e.name not in listed and not e.name.startswith(".")
    )


# --- before any work --------------------------------------------------------------------------
def check_output(
    out: str | Path,
    force: bool,
    inputs: Iterable[str | Path | None] = (),
    leftovers: Iterable[str] = (),
    option: str = "-o",
) -> Path:
    """Refuse (OutputError) an output that would overwrite something it must not; return it.

    `inputs` are the paths the command reads: the output may not be one of them, inside one,
    or contain one. `leftovers` are names a vla-edge step leaves in an output it has not
    finished (a feature cache) and may replace without --force being about them."""
    out = Path(out)
    check_not_input(out, inputs, option)
    if out.is_symlink():
        raise OutputError(
            f"{out} is a symbolic link (to {os.readlink(out)}): vla-edge does not replace links; "
            f"give the real directory or another {option}"
        )
    if not out.exists():
        return out
    if not out.is_dir():
        raise OutputError(f"{out} exists and is a file, not a directory: choose another {option}")
    kind = kind_of(out, leftovers)
    if not force and kind != "empty directory":
        hint = " (it replaces only a vla-edge bundle or checkpoint)" if kind is None else ""
        raise OutputError(
            f"{out} already exists: choose another {option} or pass --force to replace it{hint}"
        )
    check_replaceable(out, leftovers, option)
    return out


def check_replaceable(out: Path, leftovers: Iterable[str] = (), option: str = "-o") -> None:
    """An existing `out` may be replaced: a vla-edge bundle (nothing unlisted in it), a
    vla-edge checkpoint, or an empty directory."""
    out = Path(out)
    if not out.exists():
        return
    kind = kind_of(out, leftovers)
    if kind is None:
        raise OutputError(
            f"{out} holds {describe(out)}: not a vla-edge bundle or checkpoint, so --force will "
            f"not replace it; choose another {option}"
        )
    extra = _not_in_bundle(out) if kind == "vla-edge bundle" else []
    if extra:
        raise OutputError(
            f"{out} is a vla-edge bundle but also holds {', '.join(extra)}, which is not part of "
            f"it: move that out of {out} or choose another {option}"
        )


def check_not_input(
    out: str | Path, inputs: Iterable[str | Path | None], option: str = "-o"
) -> None:
    """The output is not an input of the same command, inside one, nor contains one."""
    target = Path(out).resolve()
    for given in inputs:
        if given is None or str(given) == "":
            continue
        src = Path(str(given).removeprefix("lerobot:")).resolve()
        if target == src:
            why = "is the input of this command"
        elif target in src.parents:
            why = f"contains the input {given}"
        elif src in target.parents:
            why = f"is inside the input {given}"
        else:
            continue
        raise OutputError(
            f"output {out} {why}: writing it would destroy what the command reads; "
            f"choose another {option} outside {given}"
        )


def check_report_dir(
    out: str | Path,
    names: Iterable[str],
    inputs: Iterable[str | Path | None] = (),
    option: str = "--report",
) -> Path:
    """A directory of fixed-name files (a benchmark report, a run profile): new, empty, or an
    earlier one (it holds only `names`), never a file, someone else's directory (whose files
    the new ones could overwrite), an input of the command or a directory inside one."""
    out = Path(out)
    check_not_input(out, inputs, option)
    if not out.exists():
        return out
    if not out.is_dir():
        raise OutputError(
            f"{option} {out} is a file: it must name a directory to write "
            f"{', '.join(sorted(names))} into; choose another path"
        )
    other = sorted(
        e.name + ("/" if e.is_dir() else "") for e in out.iterdir() if e.name not in set(names)
    )
    if other:
        shown = ", ".join(other[:5]) + (f" and {len(other) - 5} more" if len(other) > 5 else "")
        raise OutputError(
            f"{option} {out} holds {shown}, which vla-edge did not write there: its files "
            f"({', '.join(sorted(names))}) could overwrite yours; choose a new or empty directory"
        )
    return out


# --- while writing ----------------------------------------------------------------------------
def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clean_stale(out: Path) -> list[str]:
    """Remove `.NAME.partial-<pid>-*` left by processes no longer running; an `.NAME.old-*`
    (a swap cut short) is put back when NAME is missing, else removed. Says what it did."""
    out = Path(out)
    done: list[str] = []
    if not out.parent.is_dir():
        return done
    for entry in sorted(out.parent.iterdir()):
        m = _STALE.match(entry.name)
        if m is None and entry.name.startswith(f".{out.name}.partial-"):
            done.append(  # no pid in the name (an older vla-edge): named, never removed
                f"found {entry}, a partial output of unknown origin: delete it if no vla-edge "
                f"is writing {out}"
            )
            continue
        if not m or m["name"] != out.name or int(m["pid"]) == os.getpid():
            continue
        if _alive(int(m["pid"])):
            continue
        if m["kind"] == "old" and not out.exists():
            os.replace(entry, out)
            done.append(f"restored {out} from {entry.name} (a replacement was cut short)")
        else:
            shutil.rmtree(entry, ignore_errors=True)
            done.append(f"removed {entry} (left by process {m['pid']}, no longer running)")
    for line in done:
        print(f"vla-edge: {line}", file=sys.stderr)
    return done


def _on_sigterm(signum, frame) -> None:
    names = ", ".join(sorted(p.name for p in _ACTIVE))
    print(f"vla-edge: terminated (SIGTERM); removing partial output {names}", file=sys.stderr)
    raise SystemExit(128 + signum)  # unwinds through every PartialDir, which removes itself


def _register(path: Path) -> None:
    with _LOCK:
        _ACTIVE.add(path)
        if len(_ACTIVE) == 1 and threading.current_thread() is threading.main_thread():
            previous = signal.getsignal(signal.SIGTERM)
            if previous in (signal.SIG_DFL, None):
                _PREVIOUS_HANDLER.append(previous)
                signal.signal(signal.SIGTERM, _on_sigterm)


def _unregister(path: Path) -> None:
    with _LOCK:
        _ACTIVE.discard(path)
        main = threading.current_thread() is threading.main_thread()
        if not _ACTIVE and _PREVIOUS_HANDLER and main:
            signal.signal(signal.SIGTERM, _PREVIOUS_HANDLER.pop() or signal.SIG_DFL)


@atexit.register
def _remove_active() -> None:
    for path in list(_ACTIVE):
        shutil.rmtree(path, ignore_errors=True)


class PartialDir:
    """`with PartialDir(out) as p: write into p.path; p.commit()` -> out, atomically."""

    def __init__(self, out: str | Path) -> None:
        self.out = Path(out)
        self.out.parent.mkdir(parents=True, exist_ok=True)
        clean_stale(self.out)
        self.path = self.out.with_name(
            f".{self.out.name}.partial-{os.getpid()}-{secrets.token_hex(4)}"
        )
        _register(self.path)  # first: a SIGTERM from here on removes it
        self.path.mkdir()
        self.committed = False

    def commit(self, inner: Path | None = None) -> Path:
        """Swap the finished directory in: old aside, new in, old removed afterwards. `inner`:
        a directory inside the partial one to swap in instead (a bundle staged there while it
        is checked); the rest of the partial directory is removed."""
        new = self.path if inner is None else Path(inner)
        old = None
        if self.out.exists():
            old = self.out.with_name(f".{self.out.name}.old-{os.getpid()}-{secrets.token_hex(4)}")
            os.replace(self.out, old)
        try:
            os.replace(new, self.out)
        except BaseException:
            if old is not None:
                os.replace(old, self.out)
            raise
        self.committed = True
        if inner is not None:
            shutil.rmtree(self.path, ignore_errors=True)
        _unregister(self.path)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        return self.out

    def abort(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)
        _unregister(self.path)

    def __enter__(self) -> PartialDir:
        return self

    def __exit__(self, *exc: object) -> None:
        if not self.committed:
            self.abort()
