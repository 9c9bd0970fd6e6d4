"""Each precision round-trips through the bundle format and the ONNX Runtime policy, with
lineage and a validation report against the parent."""

from __future__ import annotations

import numpy as np
import onnx
import pytest

from vla_edge.bundle import Bundle
from vla_edge.compress.quantize import Budget, QuantizeConfig, quantize
from vla_edge.errors import QuantizationError
from vla_edge.policy.policy import Policy

SMALL = dict(calib_size=12, holdout=12, force=True)
# format tests: a random tiny model on random frames barely varies its actions, so its INT8
# misses the default (spread-relative) budget; the gate itself is tested in test_quant_budget
LOOSE = Budget(spread=1e3)


def _q(parent, out, **kw):
    return quantize(parent, out, QuantizeConfig(**{**SMALL, "budget": LOOSE, **kw}))


def _predict(path):
    with Policy.load(path, backend="onnxrt") as p:
        spec = p.spec
        frames = {c.name: np.full((c.height, c.width, 3), 90, np.uint8) for c in spec.cameras}
        return spec, p.predict(frames, "open the drawer", np.zeros(spec.state_dim, np.float32))


@pytest.mark.parametrize("precision", ["fp16", "int8", "int8-dynamic", "mixed"])
def test_precision_round_trips(tiny_bundle, tmp_path, precision):
    parent = Bundle.load(tiny_bundle("bins"))
    kw = {} if precision != "mixed" else {"granularity": "block"}
    out = _q(parent.path, tmp_path / precision, precision=precision, **kw)
    again = Bundle.load(out.path)  # every hash checks
    assert again.manifest["lineage"]["parent"] == parent.content_hash
    assert again.manifest["lineage"]["step"] == "quantize"
    assert again.graphs[0]["role"] == "policy"
    assert again.graphs[0]["precision"] == precision
    assert again.precision == precision
    q = again.manifest["validation"]["quantization"]
    assert q["heldout"]["heldout_samples"] == 12
    assert 0 <= q["identical_bins"] <= 1
    assert set(q["action_error"]) == set(parent.spec.action.names)
    assert "fp32" in q["cost"] and precision in q["cost"]
    spec, actions = _predict(out.path)
    assert actions.shape == (spec.action.chunk, spec.action.dim)
    assert np.all(actions >= np.array(spec.action.low) - 1e-6)
    assert np.all(actions <= np.array(spec.action.high) + 1e-6)


def test_graph_io_stays_fp32(tiny_bundle, tmp_path):
    parent = Bundle.load(tiny_bundle("bins"))
    for precision in ("fp16", "int8"):
        out = _q(parent.path, tmp_path / precision, precision=precision)
        for g in out.graphs:
            ref = parent.graph(g["role"])
            assert g["inputs"] == ref["inputs"], (precision, g["role"])
            assert g["outputs"] == ref["outputs"], (precision, g["role"])


def test_int8_is_smaller_and_keeps_encoder_fp32(tiny_bundle, tmp_path):
    parent = Bundle.load(tiny_bundle("bins"))
    out = _q(parent.path, tmp_path / "q", precision="int8")
    assert out.graph("instruction_encoder")["precision"] == "fp32"
    assert out.graph("policy")["size"] < 0.5 * parent.graph("policy")["size"]


def test_encoder_can_be_quantized_too(tiny_bundle, tmp_path):
    parent = tiny_bundle("bins")
    out = _q(parent, tmp_path / "q", precision="int8", encoder_precision="int8-dynamic")
    assert out.graph("instruction_encoder")["precision"] == "int8-dynamic"
    emb = out.manifest["validation"]["quantization"]["embedding_max_abs"]
    assert emb is not None and emb > 0
    _predict(out.path)


@pytest.mark.parametrize("head", ["continuous", "flow"])
def test_other_heads(tiny_bundle, tmp_path, head):
    parent = tiny_bundle(head)
    for precision in ("fp16", "int8"):
        out = _q(parent, tmp_path / precision, precision=precision)
        q = out.manifest["validation"]["quantization"]
        assert q["identical_bins"] is None
        assert all(np.isfinite(v["p99"]) for v in q["action_error"].values())
        _predict(out.path)


def test_fp16_is_close_on_continuous_head(tiny_bundle, tmp_path):
    out = _q(tiny_bundle("continuous"), tmp_path / "h", precision="fp16", budget=None)
    q = out.manifest["validation"]["quantization"]
    assert q["passed"], q["violations"]  # the default budget


def test_monolithic_int8(tiny_bundle, tmp_path):
    parent = Bundle.load(tiny_bundle("bins", monolithic=True))
    out = _q(parent.path, tmp_path / "m", precision="int8")
    assert [g["role"] for g in out.graphs] == ["monolithic"]
    details = out.graphs[0]["quantization"]
    # the text encoder's layers stay float in the monolithic graph (encoder kept FP32)
    assert all(name.startswith("text.") for name in details["float_layers"])
    assert details["float_layers"]
    _predict(out.path)


def test_refuses_to_quantize_a_quantized_bundle(tiny_bundle, tmp_path):
    out = _q(tiny_bundle("bins"), tmp_path / "q", precision="fp16")
    with pytest.raises(QuantizationError, match="quantize the FP32 bundle"):
        _q(out.path, tmp_path / "qq", precision="int8")


def test_fp16_islands(tiny_bundle, tmp_path):
    out = _q(tiny_bundle("bins"), tmp_path / "h", precision="fp16")
    model = onnx.shape_inference.infer_shapes(onnx.load(str(out.graph_path("policy"))))
    types = {v.name: v.type.tensor_type.elem_type for v in model.graph.value_info}
    types.update({i.name: i.type.tensor_type.elem_type for i in model.graph.input})
    inits = {t.name: t.data_type for t in model.graph.initializer}
    types.update(inits)
    fp16 = onnx.TensorProto.FLOAT16
    assert any(t == fp16 for t in inits.values()), "no weights were converted to FP16"
    for node in model.graph.node:
        island = node.op_type in ("LayerNormalization", "Softmax", "ArgMax")
        if island or node.name.startswith("/head/"):
            dtypes = {types.get(i) for i in node.input if i}
            assert fp16 not in dtypes, f"{node.op_type} {node.name} runs in FP16"


def test_fp16_keeps_overflowing_nodes_fp32():
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper

    from vla_edge.compress.quantize.fp16 import to_fp16

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])
    inits = [
        numpy_helper.from_array(np.full((4, 4), 300.0, np.float32), "w"),
        numpy_helper.from_array(np.full((4, 4), 1e-3, np.float32), "w2"),
    ]
    nodes = [
        helper.make_node("MatMul", ["x", "w"], ["h"], name="big"),  # 1.2e5: beyond FP16
        helper.make_node("MatMul", ["h", "w2"], ["y"], name="down"),
    ]
    graph = helper.make_graph(nodes, "g", [x], [y], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=9)
    feeds = [{"x": np.full((1, 4), 100.0, np.float32)}]
    res = to_fp16(model, feeds)
    assert [o["node"] for o in res.overflow_nodes] == ["big"]
    sess = ort.InferenceSession(res.model.SerializeToString(), providers=["CPUExecutionProvider"])
    out = sess.run(None, feeds[0])[0]
    assert np.allclose(out, 480.0, rtol=1e-2)
