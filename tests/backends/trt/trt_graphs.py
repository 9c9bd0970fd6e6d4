"""Small ONNX graphs made with onnx.helper for the target-check tests: a clean VLA-shaped
graph (uint8 image in, Cast, MatMul, bins head, ArgMax), and variants with one planted
problem each."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

H = W = 16
D = 8
BINS = 4


def _base_nodes(weight_in: str = "w") -> list:
    return [
        helper.make_node("Cast", ["image_main"], ["img_f"], to=TensorProto.FLOAT, name="cast_img"),
        helper.make_node("Reshape", ["img_f", "flat_shape"], ["flat"], name="flatten"),
        helper.make_node("MatMul", ["flat", weight_in], ["logits"], name="head_matmul"),
        helper.make_node("Reshape", ["logits", "bins_shape"], ["bins"], name="to_bins"),
        helper.make_node("ArgMax", ["bins"], ["idx"], axis=-1, keepdims=0, name="argmax"),
        helper.make_node("Cast", ["idx"], ["idx_f"], to=TensorProto.FLOAT, name="cast_idx"),
        helper.make_node("Mul", ["idx_f", "step"], ["actions"], name="decode"),
    ]


def _inits(weight: np.ndarray | None = None) -> list:
    rng = np.random.default_rng(0)
    w = weight if weight is not None else rng.standard_normal((H * W * 3, 2 * BINS)).astype("f4")
    return [
        numpy_helper.from_array(w, "w"),
        numpy_helper.from_array(np.array([-1, H * W * 3], dtype=np.int64), "flat_shape"),
        numpy_helper.from_array(np.array([-1, 2, BINS], dtype=np.int64), "bins_shape"),
        numpy_helper.from_array(np.array(0.5, dtype=np.float32), "step"),
    ]


def make_model(nodes: list, inits: list, opset: int = 17, extra_opsets=()) -> onnx.ModelProto:
    image = helper.make_tensor_value_info("image_main", TensorProto.UINT8, ["batch", H, W, 3])
    actions = helper.make_tensor_value_info("actions", TensorProto.FLOAT, ["batch", 2])
    graph = helper.make_graph(nodes, "policy", [image], [actions], initializer=inits)
    opsets = [helper.make_opsetid("", opset), *extra_opsets]
    model = helper.make_model(graph, opset_imports=opsets)
    model.ir_version = 8
    return model


def clean() -> onnx.ModelProto:
    return make_model(_base_nodes(), _inits())


def unsupported_op() -> onnx.ModelProto:
    nodes = _base_nodes()
    # planted: Unique is not in TensorRT 10.3's parser
    nodes.insert(1, helper.make_node("Unique", ["img_f"], ["uniq"], name="planted_unique"))
    nodes.insert(2, helper.make_node("Identity", ["uniq"], ["uniq_id"], name="use_unique"))
    model = make_model(nodes, _inits())
    model.graph.output.append(helper.make_tensor_value_info("uniq_id", TensorProto.FLOAT, ["u"]))
    return model


def _qdq_nodes(act_zp: str, w_zp: str, fp8: bool = False) -> list:
    nodes = _base_nodes(weight_in="w_dq")
    q = [
        helper.make_node("QuantizeLinear", ["flat", "x_scale", act_zp], ["flat_q"], name="q_act"),
        helper.make_node(
            "DequantizeLinear", ["flat_q", "x_scale", act_zp], ["flat_dq"], name="dq_act"
        ),
        helper.make_node(
            "DequantizeLinear", ["w_q", "w_scale", w_zp], ["w_dq"], axis=1, name="dq_weight"
        ),
    ]
    nodes[2] = helper.make_node("MatMul", ["flat_dq", "w_dq"], ["logits"], name="head_matmul")
    return nodes[:2] + q + nodes[2:]


def qdq(zero_point: int = 0, weight_axis_ok: bool = True, fp8: bool = False) -> onnx.ModelProto:
    rng = np.random.default_rng(1)
    k, n = H * W * 3, 2 * BINS
    qtype, np_t = (TensorProto.FLOAT8E4M3FN, None) if fp8 else (TensorProto.INT8, np.int8)
    inits = [i for i in _inits() if i.name != "w"]
    if fp8:
        w_q = helper.make_tensor("w_q", qtype, [k, n], vals=[0] * (k * n))
        zp_x = helper.make_tensor("x_zp", qtype, [], vals=[0])
        zp_w = helper.make_tensor("w_zp", qtype, [n], vals=[0] * n)
    else:
        w_q = numpy_helper.from_array(rng.integers(-127, 128, (k, n)).astype(np_t), "w_q")
        zp_x = numpy_helper.from_array(np.array(zero_point, dtype=np_t), "x_zp")
        zp_w = numpy_helper.from_array(np.zeros(n, dtype=np_t), "w_zp")
    scales = np.full(n if weight_axis_ok else k, 0.01, dtype=np.float32)
    inits += [
        w_q,
        zp_x,
        zp_w,
        numpy_helper.from_array(scales, "w_scale"),
        numpy_helper.from_array(np.array(0.1, dtype=np.float32), "x_scale"),
    ]
    nodes = _qdq_nodes("x_zp", "w_zp", fp8)
    if not weight_axis_ok:
        nodes[4] = helper.make_node(
            "DequantizeLinear", ["w_q", "w_scale", "w_zp"], ["w_dq"], axis=0, name="dq_weight"
        )
        inits = [i for i in inits if i.name != "w_zp"]
        inits.append(numpy_helper.from_array(np.zeros(k, dtype=np.int8), "w_zp"))
    return make_model(nodes, inits, opset=19 if fp8 else 17)


def write_bundle(root: Path, models: dict[str, onnx.ModelProto], precision: str = "fp16") -> Path:
    """A minimal bundle dir: manifest.json listing the graphs (DESIGN.md layout)."""
    root.mkdir(parents=True, exist_ok=True)
    graphs = []
    for name, model in models.items():
        onnx.save(model, str(root / f"{name}.onnx"))
        graphs.append({"file": f"{name}.onnx", "role": name, "precision": precision})
    manifest = {"format_version": 1, "name": "test", "graphs": graphs}
    (root / "manifest.json").write_text(json.dumps(manifest))
    return root
