"""benchmarks/gpu_check.py's CPU path (--dry-run): the side-by-side schedule, the bit-exact check
and a report that says it is not a GPU result. The GPU path needs a CUDA machine."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

pytest.importorskip("torch")
SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "gpu_check.py"


def _module():
    spec = importlib.util.spec_from_file_location("gpu_check", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_dry_run_writes_a_report_that_is_plainly_not_a_gpu_result(tmp_path):
    gc = _module()
    code = gc.main(["--dry-run", "--out-dir", str(tmp_path), "--step", "compile=ok in 3 s"])
    assert code == 0
    md = (tmp_path / "gpu_check_dry-run-cpu.md").read_text()
    assert md.startswith("# GPU check: DRY RUN on the CPU (no GPU)")
    assert "**Not a GPU result.**" in md and "| compile | ok in 3 s |" in md
    result = json.loads((tmp_path / "gpu_check_dry-run-cpu.json").read_text())
    assert result["dry_run"] and len(result["cases"]) == 3
    for case in result["cases"]:
        assert case["fused_bit_exact_vs_numpy"] and case["samples"] == 8
        assert case["torch_over_fused"] > 0 and case["max_abs_fused_vs_torch"] < 0.01


def test_a_gpu_name_becomes_a_file_name():
    assert _module().slug("NVIDIA H200 NVL") == "nvidia-h200-nvl"
