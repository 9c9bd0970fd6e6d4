"""Static INT8 graphs contain only what TensorRT 10.3 accepts for explicit quantization:
QuantizeLinear/DequantizeLinear in INT8 with zero point 0, constant positive scales, per-channel
weight scales on the output-channel axis, per-tensor activation scales, every Q followed by a DQ,
no INT32 (bias) DQ, and no ONNX Runtime-only quantized ops."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from vla_edge.compress.quantize import Budget, QuantizeConfig, quantize
from vla_edge.compress.quantize.graphs import weighted_layers
from vla_edge.compress.quantize.qdq import insert_qdq, weight_qparams

ORT_ONLY = {
    "QLinearMatMul",
    "QLinearConv",
    "MatMulInteger",
    "ConvInteger",
    "DynamicQuantizeLinear",
    "MatMulIntegerToFloat",
    "DynamicQuantizeMatMul",
}


@pytest.fixture(scope="module")
def int8_graphs(tiny_bundle, tmp_path_factory):
    """Per-frame graphs of INT8 and mixed bundles (bins split, flow split, bins monolithic)."""
    out = []
    root = tmp_path_factory.mktemp("qdq")
    cases = [("bins", False, "int8"), ("flow", False, "int8"), ("bins", True, "int8")]
    cases.append(("bins", False, "mixed"))
    for head, mono, precision in cases:
        cfg = QuantizeConfig(
            precision=precision,
            calib_size=8,
            holdout=8,
            granularity="block",
            budget=Budget(spread=1e3),  # graph-structure tests of a random tiny model
        )
        b = quantize(tiny_bundle(head, monolithic=mono), root / f"{head}-{mono}-{precision}", cfg)
        role = "monolithic" if mono else "policy"
        out.append(onnx.load(str(b.graph_path(role))))
    return out


def _consts(model):
    return {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}


def test_only_int8_qdq_with_zero_points_of_zero(int8_graphs):
    for model in int8_graphs:
        consts = _consts(model)
        qdq = [n for n in model.graph.node if n.op_type in ("QuantizeLinear", "DequantizeLinear")]
        assert qdq, "no Q/DQ nodes"
        for n in qdq:
            assert n.domain in ("", "ai.onnx"), n.name
            assert len(n.input) == 3, f"{n.name}: no zero point (would default to UINT8)"
            zp = consts[n.input[2]]
            assert zp.dtype == np.int8, (n.name, zp.dtype)
            assert not zp.any(), n.name
            scale = consts[n.input[1]]
            assert scale.dtype == np.float32 and (scale > 0).all(), n.name
            if n.op_type == "DequantizeLinear" and n.input[0] in consts:
                assert consts[n.input[0]].dtype == np.int8, f"{n.name}: non-INT8 (bias?) DQ"
        ops = {n.op_type for n in model.graph.node}
        assert not ops & ORT_ONLY
        assert all(n.domain in ("", "ai.onnx") for n in model.graph.node)


def test_weights_per_channel_on_output_axis_activations_per_tensor(int8_graphs):
    for model in int8_graphs:
        consts = _consts(model)
        producer = {o: n for n in model.graph.node for o in n.output}
        checked = 0
        for node in model.graph.node:
            if node.op_type not in ("MatMul", "Gemm", "Conv"):
                continue
            w_dq, x_dq = producer.get(node.input[1]), producer.get(node.input[0])
            if w_dq is None or w_dq.op_type != "DequantizeLinear":
                continue
            w = consts[w_dq.input[0]]
            axis = next(a.i for a in w_dq.attribute if a.name == "axis")
            trans = next((a.i for a in node.attribute if a.name == "transB"), 0)
            want = {"Conv": 0, "Gemm": 0 if trans else 1}.get(node.op_type, w.ndim - 1)
            assert axis == want, node.name
            assert consts[w_dq.input[1]].shape == (w.shape[axis],), node.name
            assert x_dq is not None and x_dq.op_type == "DequantizeLinear", node.name
            assert consts[x_dq.input[1]].size == 1, f"{node.name}: per-channel activation"
            checked += 1
        assert checked > 0


def test_every_q_feeds_only_dqs_and_attention_stays_float(int8_graphs):
    for model in int8_graphs:
        consts = _consts(model)
        consumers = {}
        for n in model.graph.node:
            for i in n.input:
                consumers.setdefault(i, []).append(n)
        for n in model.graph.node:
            if n.op_type == "QuantizeLinear":
                users = consumers.get(n.output[0], [])
                assert users and all(u.op_type == "DequantizeLinear" for u in users)
        producer = {o: n for n in model.graph.node for o in n.output}
        for n in model.graph.node:  # MatMuls between two activations (attention): no Q/DQ
            if n.op_type == "MatMul" and not _weight_path(n.input[1], producer, consts):
                srcs = [producer.get(i) for i in n.input]
                assert not any(s is not None and s.op_type == "DequantizeLinear" for s in srcs)


def _weight_path(name, producer, consts):
    p = producer.get(name)
    return name in consts or (p is not None and p.op_type == "DequantizeLinear")


def test_trt_checker_agrees(int8_graphs):
    qdq = pytest.importorskip("vla_edge.backends.trt.qdq")
    from vla_edge.backends.trt.graphutil import GraphView

    for model in int8_graphs:
        problems = [p for p in qdq.check_qdq(GraphView(model)) if p.severity == "error"]
        assert not problems, [p.message for p in problems]


def test_weight_qparams_symmetric_per_channel():
    rng = np.random.default_rng(0)
    w = rng.standard_normal((16, 8)).astype(np.float32)
    w[:, 3] = 0.0  # an all-zero channel must not divide by zero
    q, scale = weight_qparams(w, axis=1)
    assert q.dtype == np.int8 and scale.shape == (8,)
    assert np.abs(q).max() <= 127
    back = q.astype(np.float32) * scale
    assert np.abs(back - w).max() <= scale.max() / 2 + 1e-7
    assert (np.abs(q).max(axis=0)[[0, 1, 2, 4]] == 127).all()


def test_one_layer_alone(tiny_bundle):
    """Quantizing one layer leaves every other weight untouched."""
    from vla_edge.bundle import Bundle

    model = onnx.load(str(Bundle.load(tiny_bundle("bins")).graph_path("policy")))
    layers = weighted_layers(model)
    one = layers[3]
    amax = {n.input[0]: 1.0 for n in model.graph.node if n.input}
    q = insert_qdq(model, [one], amax)
    dqs = [n for n in q.graph.node if n.op_type == "DequantizeLinear"]
    assert len(dqs) == 1 + len(one.nodes)  # the weight's DQ + one activation DQ per use
    names = {t.name for t in q.graph.initializer}
    assert one.weight not in names and f"{one.weight}_int8" in names
    assert all(x.weight in names for x in layers if x is not one)
