"""The kernels compile: the host build with the system C++ compiler, and (where nvcc exists)
the CUDA sources for sm_87 and sm_90 through kernels/ci_compile.sh."""

from __future__ import annotations

import ctypes
import shutil
import subprocess
from pathlib import Path

import pytest

from vla_edge.kernels.action_decode import DecodeParams
from vla_edge.kernels.build import host_library, kernels_dir
from vla_edge.kernels.preprocess import PreprocessParams


def test_host_library_abi_matches_the_python_structs():
    lib = host_library()
    assert lib.vla_kernels_abi_version() == 1
    assert lib.vla_preprocess_params_size() == ctypes.sizeof(PreprocessParams)
    assert lib.vla_decode_params_size() == ctypes.sizeof(DecodeParams)


@pytest.mark.slow
def test_ci_compile_script_builds_for_sm87(tmp_path: Path):
    if shutil.which("nvcc") is None:
        pytest.skip("nvcc not on PATH")
    script = kernels_dir() / "ci_compile.sh"
    done = subprocess.run([str(script), str(tmp_path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "libvla_kernels_cuda.so").is_file()
