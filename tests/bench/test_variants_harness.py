import shutil

import numpy as np
import pytest

from vla_edge.bench.harness import MeasureConfig, action_error, bundle_spec, measure, percentiles
from vla_edge.bench.variants import plan_variants
from vla_edge.bundle import Bundle, BundleWriter, new_manifest
from vla_edge.errors import InputError


def child_of(parent_path, out, precision="int8"):
    """A bundle whose lineage names `parent_path` (same graphs, relabelled precision)."""
    parent = Bundle.load(parent_path)
    with BundleWriter(out) as w:
        manifest = new_manifest("child", parent.spec, "quantize", {"precision": precision}, parent)
        for rel in parent.manifest["files"]:
            shutil.copyfile(parent.path / rel, w.path(rel))
        w.path("notes.txt").write_text("a different bundle")  # so its content hash differs
        manifest["graphs"] = [{**g, "precision": precision} for g in parent.graphs]
        w.finish(manifest)
    return out


def test_lineage_joins_and_reference_is_the_fp32_parent(tiny_bundle, tmp_path):
    parent = tiny_bundle("bins")
    child = child_of(parent, tmp_path / "child")
    plan = plan_variants([child], ["onnxrt"])
    assert [v.precision for v in plan.variants] == ["int8", "fp32"]
    assert [v.role for v in plan.variants] == ["given", "lineage"]
    assert plan.reference.bundle == str(parent)
    # filtering by precision keeps the reference: errors are measured against it
    only = plan_variants([child], ["onnxrt"], precisions=["int8"])
    assert len(only.variants) == 2 and only.reference.precision == "fp32"


def test_torch_and_trt_variants_need_their_inputs(tiny_bundle, tmp_path):
    child = child_of(tiny_bundle("bins"), tmp_path / "child")
    plan = plan_variants([child], ["torch", "trt"])
    # the FP32 ONNX Runtime reference joins even when its backend was not asked for
    labels = [v.label for v in plan.variants]
    assert labels == ["bundle-bins-split onnxrt fp32", "bundle-bins-split torch fp32"]
    assert any("child torch" in s for s in plan.skipped)
    assert any("no engines" in s and "vla-edge build" in s for s in plan.skipped)
    with pytest.raises(InputError, match="unknown backend"):
        plan_variants([child], ["tensorflow"])


def test_statistics():
    p = percentiles(list(range(1, 101)))
    assert p["p50"] == pytest.approx(50.5) and p["max"] == 100 and p["p99"] > p["p90"]
    ref = np.zeros((2, 4, 2))
    act = ref.copy()
    act[0, 0, 1] = 0.5
    e = action_error(act, ref, low=[-1, 0], high=[1, 1])
    assert e["max_abs"] == [0.0, 0.5]
    assert e["max_fraction_of_range"] == pytest.approx(0.5)
    assert e["identical"] == pytest.approx(15 / 16)


def test_measure_two_backends_in_their_own_processes(tiny_bundle):
    path = tiny_bundle("continuous")
    plan = plan_variants([path], ["onnxrt", "torch"])
    cfg = MeasureConfig(iterations=6, warmup=1, rounds=3, samples=3)
    results = measure(plan, cfg, bundle_spec(path))
    ort, torch = results
    assert ort["reference"] and ort["kind"] == "measured"
    assert len(ort["times_ms"]) == 6 and len(ort["intervals"]) == 3
    assert ort["memory"]["peak_rss_mb"] > 0
    # torch vs the exported graph: same model, tiny float differences only
    assert torch["action_error"]["max_fraction_of_range"] < 1e-3
    assert torch["memory"]["rss_delta_mb"] > ort["memory"]["rss_delta_mb"]
