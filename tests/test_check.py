"""`vla-edge check`: graphs made with onnx.helper (clean, planted unsupported op, FP8, QDQ with a
nonzero zero point, wrong per-channel axis) and the real tiny bundle, FP32 and INT8 QDQ."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import onnx
import pytest
from typer.testing import CliRunner

from tests.backends.trt import trt_graphs as g
from vla_edge.bench.devices import DEVICES, get_device, jetson_devices
from vla_edge.bundle import Bundle
from vla_edge.errors import BundleError, DeviceError, InputError
from vla_edge.targets import CheckOptions, check


def _codes(report, severity="error") -> Counter:
    return Counter(p.code for p in report.problems if p.severity == severity)


def _run(tmp_path: Path, model: onnx.ModelProto, **opts):
    path = tmp_path / "graph.onnx"
    onnx.save(model, str(path))
    return check(path, CheckOptions(**opts))


def test_clean_graph_has_no_errors(tmp_path):
    report = _run(tmp_path, g.clean(), device="orin-nano")
    assert report.ok, [p.line() for p in report.problems]
    assert report.memory["weights_mb"] > 0


def test_planted_unsupported_op_is_named_with_node_and_fix(tmp_path):
    report = _run(tmp_path, g.unsupported_op(), device="orin-agx")
    errors = [p for p in report.problems if p.severity == "error"]
    assert [(p.code, p.node) for p in errors] == [("unsupported-op", "planted_unique")]
    assert "Unique" in errors[0].message and errors[0].fix


def test_fp8_graph_and_fp8_request_are_refused_on_orin_but_not_h100(tmp_path):
    report = _run(tmp_path, g.qdq(fp8=True), device="orin-nx")
    assert _codes(report)["dtype-fp8"] == 1
    assert "sm_89" in next(p.message for p in report.problems if p.code == "dtype-fp8")
    assert _run(tmp_path, g.clean(), device="orin-nx", precision="fp8").count("error") == 1
    assert _codes(_run(tmp_path, g.qdq(fp8=True), device="h100"))["dtype-fp8"] == 0


def test_symmetric_qdq_passes_and_nonzero_zero_point_fails(tmp_path):
    assert _run(tmp_path, g.qdq(), device="orin-agx", precision="int8").ok
    report = _run(tmp_path, g.qdq(zero_point=3), device="orin-agx", precision="int8")
    assert _codes(report) == Counter({"qdq-zero-point": 2})  # the Q and its DQ
    assert {p.node for p in report.problems if p.code == "qdq-zero-point"} == {"q_act", "dq_act"}


def test_per_channel_weights_on_the_wrong_axis(tmp_path):
    report = _run(tmp_path, g.qdq(weight_axis_ok=False), device="orin-agx")
    [problem] = [p for p in report.problems if p.code == "qdq-weight-axis"]
    assert "axis 1" in problem.message and problem.node == "dq_weight"


def test_opset_and_contrib_domain(tmp_path):
    model = g.make_model(g._base_nodes(), g._inits(), opset=23)
    assert _codes(_run(tmp_path, model))["opset"] == 1
    nodes = g._base_nodes()
    nodes[6] = onnx.helper.make_node(
        "FusedMul", ["idx_f", "step"], ["actions"], name="fused", domain="com.microsoft"
    )
    model = g.make_model(
        nodes, g._inits(), extra_opsets=[onnx.helper.make_opsetid("com.microsoft", 1)]
    )
    [p] = [p for p in _run(tmp_path, model).problems if p.severity == "error"]
    assert p.node == "fused" and "com.microsoft" in p.fix


def test_memory_check_fails_when_weights_exceed_the_device(tmp_path):
    model = g.make_model(g._base_nodes(), g._inits())
    weight = model.graph.initializer[0]
    weight.dims[1] = 1_000_000  # 768 x 1e6 fp32 = ~3 GB; sizes come from dims, not data
    weight.ClearField("raw_data")
    path = tmp_path / "big.onnx"
    onnx.save(model, str(path))
    report = check(path, CheckOptions(device="orin-nano-4gb", precision="fp32"))
    [mem] = [p for p in report.problems if p.code == "memory"]
    assert mem.severity == "error" and "does not fit" in mem.message


def test_bad_device_dla_and_options():
    with pytest.raises(DeviceError, match="orin-agx"):
        get_device("xavier")
    with pytest.raises(InputError):
        CheckOptions(precision="int4")
    assert get_device("orin-nx").dla_cores == 2 and get_device("orin-nano").dla_cores == 0


def test_device_profiles_are_consistent():
    for d in jetson_devices():
        assert d.compute_capability == (8, 7) and d.tensorrt == "10.3"
        assert not d.supports("fp8") and d.supports("int8")
        assert d.int8_tops_dense * 2 == d.int8_tops_sparse
        assert 0 < d.usable_memory_gb < d.memory_gb
    assert DEVICES["h100"].supports("fp8")


def test_missing_bundle_is_a_bundle_error(tmp_path):
    with pytest.raises(BundleError, match="manifest.json"):
        check(tmp_path, CheckOptions())


def test_exported_bundles_check_clean(tiny_bundle, tmp_path):
    """Real exported graphs (uint8 frames cast before the layout transpose, as TensorRT needs:
    it has no UINT8 Shuffle) name no false problems; only warnings remain."""
    for head in ("bins", "continuous", "flow"):
        report = check(tiny_bundle(head), CheckOptions(device="orin-nano"))
        assert report.ok, [p.line() for p in report.problems]
        assert {p.code for p in report.problems} <= {"int64-io", "memory"}


def test_uint8_shuffle_is_flagged(tiny_bundle, tmp_path):
    """A graph that reshapes/transposes the uint8 image before casting it is refused, naming
    the node (the export casts first; here the Cast is moved after its consumer)."""
    bundle = shutil.copytree(tiny_bundle("bins"), tmp_path / "b")
    path = bundle / "policy.onnx"
    model = onnx.load(str(path))
    nodes = list(model.graph.node)
    cast = next(n for n in nodes if n.op_type == "Cast" and n.input[0] == "image_front")
    tr = next(n for n in nodes if n.input and n.input[0] == cast.output[0])
    assert tr.op_type in ("Reshape", "Transpose")  # both are TensorRT Shuffle layers
    src, mid, out = cast.input[0], cast.output[0], tr.output[0]
    tr.input[0], tr.output[0] = src, mid + "_u8"
    cast.input[0], cast.output[0] = mid + "_u8", out
    i, j = nodes.index(tr), nodes.index(cast)
    nodes[i], nodes[j] = nodes[j], nodes[i]
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    onnx.save(model, str(tmp_path / "edited.onnx"))  # recorded in the manifest: check verifies
    Bundle.load(bundle, verify=False).update({"policy.onnx": tmp_path / "edited.onnx"})
    report = check(bundle, CheckOptions(device="orin-nano"))
    errors = [p for p in report.problems if p.severity == "error"]
    assert errors and all("UINT8" in p.message and p.node.endswith(tr.op_type) for p in errors)


@pytest.mark.slow
def test_int8_qdq_bundle_symmetric_passes_asymmetric_fails(tiny_bundle, tmp_path):
    quant = pytest.importorskip("onnxruntime.quantization")
    bundle = shutil.copytree(tiny_bundle("bins"), tmp_path / "b")
    rng = np.random.default_rng(0)

    class Reader(quant.CalibrationDataReader):
        def __init__(self):
            self.it = iter(
                [
                    {
                        "image_front": rng.integers(0, 256, (1, 64, 64, 3), dtype=np.uint8),
                        "instruction_embedding": rng.standard_normal((1, 32, 64)).astype(
                            np.float32
                        ),
                        "attention_mask": np.ones((1, 32), np.int64),
                        "state": rng.standard_normal((1, 8)).astype(np.float32),
                    }
                    for _ in range(2)
                ]
            )

        def get_next(self):
            return next(self.it, None)

    sym = dict(
        activation_type=quant.QuantType.QInt8,
        weight_type=quant.QuantType.QInt8,
        per_channel=True,
        extra_options={"ActivationSymmetric": True, "WeightSymmetric": True},
    )
    for name, kwargs in (("sym", sym), ("asym", {})):
        quant.quantize_static(
            str(bundle / "policy.onnx"),
            str(tmp_path / f"{name}.onnx"),
            Reader(),
            quant_format=quant.QuantFormat.QDQ,
            op_types_to_quantize=["MatMul", "Gemm", "Conv"],
            **kwargs,
        )
    ok = check(tmp_path / "sym.onnx", CheckOptions(device="orin-agx", precision="int8"))
    assert ok.ok, [p.line() for p in ok.problems]
    bad = check(tmp_path / "asym.onnx", CheckOptions(device="orin-agx", precision="int8"))
    assert set(_codes(bad)) <= {"qdq-zero-point", "qdq-unsigned"} and not bad.ok


def test_cli_check_text_json_and_exit_codes(tmp_path):
    from vla_edge.cli.main import app

    runner = CliRunner()
    clean = g.write_bundle(tmp_path / "clean", {"policy": g.clean()})
    bad = g.write_bundle(tmp_path / "bad", {"policy": g.unsupported_op()})
    result = runner.invoke(app, ["check", str(clean), "--device", "orin-nx"])
    assert result.exit_code == 0, result.output
    assert "OK: 0 error(s)" in result.output
    result = runner.invoke(app, ["check", str(bad), "--device", "orin-nano", "--json"])
    assert result.exit_code == 1
    data = json.loads(result.output)
    assert data["device"] == "orin-nano-8gb" and data["errors"] == 1
    assert data["problems"][0]["node"] == "planted_unique"
    result = runner.invoke(app, ["check", str(clean), "--precision", "fp8"])
    assert result.exit_code == 1 and "FP8" in result.output
    result = runner.invoke(app, ["check", str(clean), "--device", "tx2"])
    assert result.exit_code == 1 and "unknown device" in result.output


def test_cli_build_off_device_prints_the_install_hint(tmp_path):
    from vla_edge.cli.main import app

    if __import__("vla_edge.deps", fromlist=["available"]).available("tensorrt"):
        pytest.skip("TensorRT is installed here")
    bundle = g.write_bundle(tmp_path / "clean", {"policy": g.clean()})
    result = CliRunner().invoke(app, ["build", str(bundle), "--device", "orin-agx"])
    assert result.exit_code == 1
    assert "TensorRT not found: build on the Orin" in result.output
