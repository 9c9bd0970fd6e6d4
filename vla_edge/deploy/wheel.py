"""The runtime wheel that `deploy` installs on a robot: built here from this source checkout (a
robot is often offline), plus the wheels of its dependencies for the robot's platform.

The wheel is built from a clean copy of the sources (a stale `build/` folder never leaks old
modules into it) and cached by the hash of those sources, so one source tree gives one wheel and
one runtime id on every robot.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from vla_edge import __version__
from vla_edge.errors import DeployError

SOURCES = ("pyproject.toml", "README.md", "vla_edge")
SKIP = ("__pycache__", "*.pyc", "*.egg-info", ".DS_Store")


@dataclass(frozen=True)
class RuntimeWheel:
    """A vla-edge wheel and the id of the runtime it installs (`<version>-<12 hex>`)."""

    path: Path
    version: str
    runtime_id: str


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "vla-edge"


def source_root() -> Path | None:
    """The checkout this vla-edge was installed from (editable install), or None."""
    root = Path(__file__).resolve().parents[2]
    toml = root / "pyproject.toml"
    if toml.is_file() and 'name = "vla-edge"' in toml.read_text():
        return root
    return None


def _source_files(root: Path) -> list[Path]:
    files = [root / "pyproject.toml", root / "README.md"]
    for path in sorted((root / "vla_edge").rglob("*")):
        parts = path.relative_to(root).parts
        if path.is_file() and "__pycache__" not in parts and path.suffix != ".pyc":
            files.append(path)
    return files


def source_hash(root: Path) -> str:
    digest = hashlib.sha256()
    for path in _source_files(root):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def local_wheel(wheel: Path | None = None) -> RuntimeWheel:
    """`wheel` as given (its id from its bytes), else one built from the source checkout."""
    if wheel is not None:
        wheel = Path(wheel)
        if not wheel.is_file() or not wheel.name.startswith("vla_edge-"):
            raise DeployError(f"--wheel {wheel}: expected a vla_edge-*.whl file")
        version = wheel.name.split("-")[1]
        digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
        return RuntimeWheel(wheel, version, f"{version}-{digest[:12]}")
    root = source_root()
    if root is None:
        raise DeployError(
            "this vla-edge is not installed from a source checkout, so no runtime wheel can be "
            "built here: pass --wheel PATH (e.g. from `pip download --no-deps vla-edge`)"
        )
    return build_wheel(root)


def build_wheel(root: Path) -> RuntimeWheel:
    """Build (or reuse from the cache) the wheel of the sources under `root`."""
    runtime_id = f"{__version__}-{source_hash(root)[:12]}"
    out = cache_dir() / "runtime" / runtime_id
    found = sorted(out.glob("vla_edge-*.whl"))
    if found:
        return RuntimeWheel(found[0], __version__, runtime_id)
    with tempfile.TemporaryDirectory(prefix="vla-edge-wheel-") as tmp:
        src = Path(tmp) / "src"
        src.mkdir()
        for name in SOURCES:
            item = root / name
            if item.is_dir():
                shutil.copytree(item, src / name, ignore=shutil.ignore_patterns(*SKIP))
            else:
                shutil.copy2(item, src / name)
        built = Path(tmp) / "dist"
        _pip_wheel(src, built)
        wheels = sorted(built.glob("vla_edge-*.whl"))
        if not wheels:
            raise DeployError(f"building the vla-edge wheel from {root} produced no wheel")
        out.mkdir(parents=True, exist_ok=True)
        final = out / wheels[0].name
        fd, part = tempfile.mkstemp(dir=out, prefix=f".{wheels[0].name}.")  # builds may race
        os.close(fd)
        shutil.copyfile(wheels[0], part)
        os.replace(part, final)
    return RuntimeWheel(final, __version__, runtime_id)


def _pip_wheel(src: Path, dest: Path) -> None:
    cmd = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dest), str(src)]
    if _can_build_in_place():  # no build isolation: no index needed to build
        cmd.insert(4, "--no-build-isolation")
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        tail = (out.stderr or out.stdout).strip().splitlines()[-3:]
        raise DeployError(f"building the vla-edge wheel failed ({' | '.join(tail)})")


def _can_build_in_place() -> bool:
    try:
        import setuptools
    except ImportError:
        return False
    major, minor = (int(p) for p in setuptools.__version__.split(".")[:2])
    return (major, minor) >= (70, 1)  # bdist_wheel inside setuptools: no `wheel` package needed
