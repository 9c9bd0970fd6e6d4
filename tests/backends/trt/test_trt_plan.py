"""Build planning, sidecar matching and layer-precision parsing: everything `vla-edge build`
decides before and after TensorRT runs, tested without TensorRT."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vla_edge.backends.trt.config import BuildOptions, engine_name, plan_build, profile_shapes
from vla_edge.backends.trt.inspect import parse_layers, precision_of, precision_report
from vla_edge.backends.trt.sidecar import (
    Machine,
    Sidecar,
    jetpack_for_l4t,
    mismatches,
    parse_l4t,
    rebuild_command,
    require_match,
)
from vla_edge.bench.devices import get_device
from vla_edge.errors import BundleError, DeviceError, EngineBuildError, InputError

ORIN = get_device("orin-agx")
INPUTS = [
    {"name": "image_front", "dtype": "uint8", "shape": ["batch", 64, 64, 3]},
    {"name": "state", "dtype": "float32", "shape": ["batch", 8]},
    {"name": "static", "dtype": "float32", "shape": [1, 4]},
]


def test_fp16_plan_sets_fp16_and_a_batch_profile():
    plan = plan_build(BuildOptions(precision="fp16", max_batch=4), INPUTS, False, ORIN)
    assert plan.flags == ["FP16"]
    assert plan.profile["image_front"] == ([1, 64, 64, 3], [1, 64, 64, 3], [4, 64, 64, 3])
    assert "static" not in plan.profile
    assert plan.dla_core is None and plan.workspace_bytes is None


def test_int8_needs_qdq_and_then_sets_int8_with_fp16():
    with pytest.raises(EngineBuildError, match="vla-edge quantize"):
        plan_build(BuildOptions(precision="int8"), INPUTS, False, ORIN)
    plan = plan_build(BuildOptions(precision="int8"), INPUTS, True, ORIN)
    assert plan.flags == ["FP16", "INT8"]


def test_best_without_qdq_is_fp16_and_fp32_has_no_flags():
    assert plan_build(BuildOptions(precision="best"), INPUTS, False, ORIN).flags == ["FP16"]
    assert plan_build(BuildOptions(precision="best"), INPUTS, True, ORIN).flags == ["FP16", "INT8"]
    assert plan_build(BuildOptions(precision="fp32"), INPUTS, False, ORIN).flags == []


def test_sparsity_workspace_timing_cache(tmp_path: Path):
    opts = BuildOptions(sparsity=True, workspace_mb=512, timing_cache=tmp_path / "t.cache")
    plan = plan_build(opts, INPUTS, False, ORIN)
    assert "SPARSE_WEIGHTS" in plan.flags
    assert plan.workspace_bytes == 512 << 20
    assert plan.timing_cache == str(tmp_path / "t.cache")
    json.dumps(plan.to_dict())  # goes into the sidecar


def test_dla_plan_uses_gpu_fallback_and_fixed_shapes():
    plan = plan_build(BuildOptions(precision="fp16", dla=1, max_batch=2), INPUTS, False, ORIN)
    assert plan.dla_core == 1 and "GPU_FALLBACK" in plan.flags
    lo, opt, hi = plan.profile["state"]
    assert lo == opt == hi == [2, 8]
    with pytest.raises(EngineBuildError, match="DLA core"):
        plan_build(BuildOptions(dla=0), INPUTS, False, get_device("orin-nano"))
    with pytest.raises(EngineBuildError, match="FP16 or INT8"):
        plan_build(BuildOptions(precision="fp32", dla=0), INPUTS, False, ORIN)


def test_symbolic_non_batch_axis_needs_a_value():
    inputs = [{"name": "input_ids", "shape": ["batch", "seq"]}]
    with pytest.raises(EngineBuildError, match="--dim seq=N"):
        profile_shapes(inputs, BuildOptions())
    shapes = profile_shapes(inputs, BuildOptions(dims={"seq": 32}, max_batch=2))
    assert shapes["input_ids"] == ([1, 32], [1, 32], [2, 32])


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(precision="fp8"),
        dict(precision="int4"),
        dict(max_batch=0),
        dict(opt_batch=3),
        dict(workspace_mb=0),
        dict(dla=-1),
    ],
)
def test_invalid_build_options(kwargs):
    with pytest.raises(InputError):
        BuildOptions(**kwargs)


def test_engine_names():
    assert engine_name(ORIN, "fp16", "policy") == "engines/orin-agx-64gb-fp16.plan"
    assert engine_name(ORIN, "int8", "instruction_encoder") == (
        "engines/orin-agx-64gb-int8.instruction_encoder.plan"
    )


def _sidecar(**kw) -> Sidecar:
    base = dict(
        engine="engines/orin-agx-64gb-fp16.plan",
        graph="policy.onnx",
        role="policy",
        device="orin-agx-64gb",
        precision="fp16",
        tensorrt="10.3.0.30",
        compute_capability="8.7",
        l4t="36.4.3",
    )
    return Sidecar(**{**base, **kw})


def test_sidecar_round_trip_and_matching(tmp_path: Path):
    sc = _sidecar()
    loaded = Sidecar.load(sc.save(tmp_path / "e.json"))
    assert loaded == sc
    assert mismatches(sc, Machine("10.3.0.30", "8.7", "36.4.0")) == []
    assert mismatches(sc, Machine(None, None, None)) == []  # unknown facts pass
    problems = mismatches(sc, Machine("10.7.0", "9.0", "35.6.0"))
    assert len(problems) == 3 and "TensorRT 10.3.0.30" in problems[0]


def test_mismatched_engine_is_refused_with_the_rebuild_command():
    with pytest.raises(DeviceError) as info:
        require_match(_sidecar(), Machine("10.3.0.30", "9.0", None), "exports/pick")
    assert "vla-edge build exports/pick --device orin-agx-64gb --precision fp16" in str(info.value)
    assert rebuild_command("b", _sidecar(precision="int8")).endswith("--precision int8")


def test_missing_or_foreign_sidecar(tmp_path: Path):
    with pytest.raises(BundleError, match="missing"):
        Sidecar.load(tmp_path / "none.json")
    (tmp_path / "old.json").write_text(json.dumps({"format": 99}))
    with pytest.raises(BundleError, match="format"):
        Sidecar.load(tmp_path / "old.json")


def test_l4t_and_jetpack_parsing():
    text = "# R36 (release), REVISION: 4.3, GCID: 38968081, BOARD: generic, EABI: aarch64"
    assert parse_l4t(text) == "36.4.3"
    assert jetpack_for_l4t("36.4.3") == "6.2" and jetpack_for_l4t("36.4.0") == "6.1"
    assert parse_l4t("garbage") is None and jetpack_for_l4t(None) is None


# Engine inspector output (TensorRT 10, ProfilingVerbosity.DETAILED), trimmed to the fields read.
INSPECTOR = {
    "Layers": [
        {
            "Name": "Reformatting CopyNode for Input Tensor 0",
            "LayerType": "Reformat",
            "Inputs": [{"Name": "x", "Format/Datatype": "Row major linear FP32"}],
            "Outputs": [{"Name": "y", "Format/Datatype": "Row major linear FP16 format"}],
        },
        {
            "Name": "conv1 + relu",
            "LayerType": "CaskConvolution",
            "Inputs": [
                {"Format/Datatype": "Thirty-two wide channel vectorized row major Int8 format."}
            ],
            "Outputs": [
                {"Format/Datatype": "Thirty-two wide channel vectorized row major Int8 format."}
            ],
        },
        {
            "Name": "fc_head",
            "LayerType": "CaskGemmMatrixMultiply",
            "Inputs": [{"Format/Datatype": "Row major linear FP32"}],
            "Outputs": [{"Format/Datatype": "Row major linear FP32"}],
        },
        {
            "Name": "attn",
            "LayerType": "Myelin",
            "Inputs": [{"Format/Datatype": "Half"}],
            "Outputs": [{"Format/Datatype": "Half"}],
        },
        {
            "Name": "shape",
            "LayerType": "Shape",
            "Inputs": [],
            "Outputs": [{"Format/Datatype": "Int64"}],
        },
    ],
    "Bindings": ["x", "actions"],
}


def test_layer_precisions_and_fp32_fallback_report():
    layers = parse_layers(json.dumps(INSPECTOR))
    assert [la.precision for la in layers] == ["fp32", "int8", "fp32", "fp16", "int"]
    report = precision_report(layers, "int8")
    assert report["fp32_fallback"] == ["fc_head"]
    assert report["by_precision"]["int8"] == 1
    assert "run in FP32" in report["warnings"][0]
    assert precision_report(layers, "fp32")["fp32_fallback"] == []


def test_names_only_inspector_output_is_flagged():
    report = precision_report(parse_layers({"Layers": ["a", "b"]}), "fp16")
    assert "DETAILED" in report["warnings"][-1]


def test_int8_request_without_int8_layers_is_flagged():
    layers = parse_layers({"Layers": [INSPECTOR["Layers"][3]]})
    assert any("no layer runs in INT8" in w for w in precision_report(layers, "int8")["warnings"])


@pytest.mark.parametrize(
    ("fmt", "name"),
    [
        ("Row major linear FP16 format", "fp16"),
        ("Float", "fp32"),
        ("Int8", "int8"),
        ("N/A due to dynamic shapes", "unknown"),
        ("Row major linear BF16", "bf16"),
    ],
)
def test_precision_of_format_strings(fmt, name):
    assert precision_of(fmt) == name
