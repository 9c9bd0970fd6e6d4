"""Weight-only INT8/INT4 and FP16 of a decoder (KV-cache) bundle: the forms, the TensorRT check,
judging by identical action tokens against the FP32 parent, refusals."""

import numpy as np
import onnx
import pytest
from onnx import numpy_helper
from typer.testing import CliRunner

from vla_edge.budget import Budget
from vla_edge.bundle import Bundle
from vla_edge.cli.main import app
from vla_edge.compress.quantize.weight_only import WeightOnlyConfig, quantize_decoder
from vla_edge.errors import BundleError, InputError, ParityError
from vla_edge.policy.policy import Policy

FRAME = {"front": np.random.default_rng(2).integers(0, 256, (64, 64, 3), np.uint8)}
STATE = np.zeros(8, np.float32)
# form tests: a random tiny decoder on random frames misses the default (spread-relative) action
# budget; the gate itself is tested below and in test_quant_budget
LOOSE = Budget(spread=1e3)


def _ops(path):
    return {n.op_type for n in onnx.load(str(path)).graph.node}


@pytest.fixture(scope="module")
def parent(ar_bundle):
    return ar_bundle("ar")[1]


def test_int4_ort_uses_matmulnbits_on_the_decoder_only(parent, tmp_path):
    b = quantize_decoder(
        parent, tmp_path / "q4", WeightOnlyConfig("int4-weight", "ort", budget=LOOSE)
    )
    prec = {g["role"]: g["precision"] for g in b.graphs}
    assert prec == {
        "vision_encoder": "fp32",
        "prefix": "int4-weight-ort",
        "prefill": "int4-weight-ort",
        "decode_step": "int4-weight-ort",
    }
    assert "MatMulNBits" in _ops(b.graph_path("decode_step"))
    assert "MatMulNBits" not in _ops(b.graph_path("vision_encoder"))
    assert b.manifest["lineage"]["parent"] == Bundle.load(parent).content_hash
    t = b.manifest["validation"]["quantize"]["tokens"]
    assert t["samples"] == 32 and 0 <= t["identical_tokens"] <= 1
    with Policy.load(b.path) as p:
        assert p.predict(FRAME, "open the drawer", STATE).shape == (2, 4)


def test_int8_tensorrt_form_is_per_channel_dq_at_opset_17(parent, tmp_path):
    from vla_edge.targets import CheckOptions, check

    b = quantize_decoder(
        parent, tmp_path / "q8", WeightOnlyConfig("int8-weight", "tensorrt", budget=LOOSE)
    )
    model = onnx.load(str(b.graph_path("decode_step")))
    assert model.opset_import[0].version == 17
    dq = [n for n in model.graph.node if n.op_type == "DequantizeLinear"]
    assert dq and not any(n.op_type == "MatMulNBits" for n in model.graph.node)
    inits = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    for node in dq:
        q, scale, zero = (inits[i] for i in node.input)
        assert q.dtype == np.int8 and not zero.any() and scale.shape == (q.shape[1],)
    report = check(b.path, CheckOptions(device="orin-agx", precision="fp16"))
    assert report.ok, [p.line() for p in report.problems if p.severity == "error"]
    q = b.manifest["validation"]["quantize"]
    assert q["tokens"]["identical_tokens"] > 0.5  # per-channel INT8 keeps most tokens


def test_fp16_keeps_the_tokens(parent, tmp_path):
    b = quantize_decoder(parent, tmp_path / "h", WeightOnlyConfig("fp16", budget=LOOSE))
    assert {g["precision"] for g in b.graphs} == {"fp16"}
    assert b.manifest["validation"]["quantize"]["tokens"]["identical_tokens"] >= 0.9


def test_refusals(parent, tiny_bundle, tmp_path):
    with pytest.raises(InputError, match="opset 21"):
        WeightOnlyConfig("int4-weight", "tensorrt")
    with pytest.raises(InputError, match="does not apply to a decoder"):
        WeightOnlyConfig("int8")
    with pytest.raises(BundleError, match="needs a KV-cache bundle"):
        quantize_decoder(tiny_bundle("bins"), tmp_path / "x", WeightOnlyConfig())
    with pytest.raises(ParityError, match="nothing written"):
        quantize_decoder(parent, tmp_path / "y", WeightOnlyConfig("int4-weight", min_tokens=1.0))
    assert not (tmp_path / "y").exists()


def test_cli_quantize_decoder(parent, tmp_path):
    r = CliRunner().invoke(
        app,
        ["quantize", str(parent), "--precision", "int8-weight", "-o", str(tmp_path / "c")]
        + ["--budget", "spread=1000"],
    )
    assert r.exit_code == 0, r.output
    assert "identical action tokens" in r.output and "budget spread<=1000: met" in r.output


def test_a_decoder_that_misses_its_budget_is_not_written_unless_kept_failed(parent, tmp_path):
    tight = Budget(spread=1e-6, identical_bins=1.0)
    cfg = WeightOnlyConfig("int4-weight", budget=tight)
    with pytest.raises(ParityError, match=r"misses its budget.*--keep-failed"):
        quantize_decoder(parent, tmp_path / "q", cfg)
    assert not (tmp_path / "q").exists()
    r = CliRunner().invoke(
        app,
        ["quantize", str(parent), "--precision", "int4-weight", "-o", str(tmp_path / "k")]
        + ["--budget", "spread=1e-6,bins=1", "--keep-failed"],
    )
    assert r.exit_code == 0, r.output
    assert "MISSED" in r.output and "FAILED: kept with --keep-failed" in r.output
    b = Bundle.load(tmp_path / "k")
    assert b.failure_reasons and all(x.startswith("quantize: ") for x in b.failure_reasons)
    with pytest.raises(BundleError, match="marked failed"):
        Policy.load(b.path)
