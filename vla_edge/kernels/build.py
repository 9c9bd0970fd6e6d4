"""Compile the kernels on demand and load them with ctypes.

- host build: the kernels' `__host__ __device__` math compiled as C++ with the system compiler
  (`$CXX`, else c++/g++/clang++) into a cache directory keyed by a hash of the sources and the
  compiler; the tests run it against NumPy. Needs no GPU and no CUDA.
- CUDA build: the `.cu` launchers compiled with nvcc into a shared library (for the GPU tests
  and the TensorRT runner); `$VLA_EDGE_KERNELS_LIB` points at a prebuilt one instead (the
  library `jetson/build_kernels.sh` makes with CMake).

Cache: `$VLA_EDGE_CACHE` or ~/.cache/vla-edge, under kernels/<hash>/.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import shutil
import subprocess
import tempfile
from functools import lru_cache
from pathlib import Path

from vla_edge.errors import DependencyError, KernelBuildError

HOST_FLAGS = ["-O2", "-std=c++17", "-ffp-contract=off", "-fPIC", "-shared"]
CUDA_ARCHS = ("87", "90")  # Jetson Orin (sm_87) and H100/H200 (sm_90)


def kernels_dir() -> Path:
    """The kernels/ source folder: `$VLA_EDGE_KERNELS_DIR`, else the repository's."""
    env = os.environ.get("VLA_EDGE_KERNELS_DIR")
    path = Path(env) if env else Path(__file__).resolve().parents[2] / "kernels"
    if not (path / "host" / "host_kernels.cpp").is_file():
        raise KernelBuildError(
            f"kernel sources not found in {path}: run from a vla-edge checkout or set "
            "VLA_EDGE_KERNELS_DIR to its kernels/ folder"
        )
    return path


def cache_dir() -> Path:
    root = os.environ.get("VLA_EDGE_CACHE") or Path.home() / ".cache" / "vla-edge"
    return Path(root) / "kernels"


def find_tool(names: list[str], env: str | None = None) -> str:
    """First compiler found on PATH (or named by `env`); never a hard-coded path."""
    candidates = ([os.environ[env]] if env and os.environ.get(env) else []) + names
    for name in candidates:
        found = shutil.which(name)
        if found:
            return found
    raise DependencyError(
        f"no compiler found (looked for {', '.join(candidates)} on PATH): install one, e.g. "
        "`sudo apt install g++` (host build) or the CUDA toolkit (nvcc)"
    )


def _sources(root: Path, patterns: tuple[str, ...]) -> list[Path]:
    return sorted(p for pattern in patterns for p in root.rglob(pattern) if "build" not in p.parts)


def _digest(files: list[Path], *extra: str) -> str:
    h = hashlib.sha256()
    for f in files:
        h.update(f.name.encode())
        h.update(f.read_bytes())
    for e in extra:
        h.update(e.encode())
    return h.hexdigest()[:16]


def _version(tool: str) -> str:
    done = subprocess.run([tool, "--version"], capture_output=True, text=True, check=False)
    return done.stdout.splitlines()[0] if done.returncode == 0 and done.stdout else tool


def _compile(cmd: list[str], out: Path) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent) as tmp:
        target = Path(tmp) / out.name
        done = subprocess.run(
            [*cmd, "-o", str(target)], capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            raise KernelBuildError(
                f"compiling {out.name} failed (exit {done.returncode}): {' '.join(cmd)}\n"
                f"{done.stderr.strip()[-3000:]}"
            )
        os.replace(target, out)  # atomic: concurrent builds never see half a library
    return out


@lru_cache(maxsize=1)
def host_library() -> ctypes.CDLL:
    """Build (once per source/compiler hash) and load the host build of the kernels."""
    root = kernels_dir()
    cxx = find_tool(["c++", "g++", "clang++"], env="CXX")
    files = _sources(root, ("*.cuh", "*.h", "host_kernels.cpp"))
    key = _digest(files, _version(cxx), *HOST_FLAGS)
    out = cache_dir() / key / "libvla_kernels_host.so"
    if not out.is_file():
        _compile([cxx, *HOST_FLAGS, str(root / "host" / "host_kernels.cpp")], out)
    return ctypes.CDLL(str(out))


def nvcc_arch_flags(archs: tuple[str, ...] = CUDA_ARCHS) -> list[str]:
    return [f"-gencode=arch=compute_{a},code=sm_{a}" for a in archs]


@lru_cache(maxsize=1)
def cuda_library() -> ctypes.CDLL:
    """Load the CUDA launchers: `$VLA_EDGE_KERNELS_LIB`, else compile them with nvcc."""
    env = os.environ.get("VLA_EDGE_KERNELS_LIB")
    if env:
        return ctypes.CDLL(env)
    root = kernels_dir()
    nvcc = find_tool(["nvcc"], env="NVCC")
    files = _sources(root, ("*.cuh", "*.h", "*.cu"))
    flags = ["-O3", "-std=c++17", "-shared", "-Xcompiler", "-fPIC", *nvcc_arch_flags()]
    key = _digest(files, _version(nvcc), *flags)
    out = cache_dir() / key / "libvla_kernels_cuda.so"
    if not out.is_file():
        cu = [
            str(root / "preprocess" / "preprocess.cu"),
            str(root / "action_decode" / "action_decode.cu"),
        ]
        _compile([nvcc, *flags, *cu], out)
    return ctypes.CDLL(str(out))
