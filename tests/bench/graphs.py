"""Small ONNX graphs built with onnx.helper, with hand-computable costs."""

from __future__ import annotations

import numpy as np
from onnx import TensorProto, helper, numpy_helper


def model(nodes, inputs, outputs, inits=()):
    graph = helper.make_graph(nodes, "g", inputs, outputs, list(inits))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)


def vi(name, shape, elem=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, elem, shape)


def init(name, shape, dtype=np.float32):
    return numpy_helper.from_array(np.zeros(shape, dtype), name)


def matmul_graph(m=8, k=32, n=16, batch="B"):
    """x[B, m, k] @ W[k, n]: 2*m*k*n FLOPs per batch item."""
    return model(
        [helper.make_node("MatMul", ["x", "W"], ["y"], name="mm")],
        [vi("x", [batch, m, k])],
        [vi("y", [batch, m, n])],
        [init("W", [k, n])],
    )


def gemm_graph(m=4, k=64, n=10):
    """Gemm with bias: 2*m*k*n + m*n."""
    return model(
        [helper.make_node("Gemm", ["x", "W", "b"], ["y"], name="gemm", transB=1)],
        [vi("x", [m, k])],
        [vi("y", [m, n])],
        [init("W", [n, k]), init("b", [n])],
    )


def conv_graph():
    """Conv 3->8 channels, 3x3, stride 1, pad 1 on 16x16, with bias; then Relu (fusable)."""
    return model(
        [
            helper.make_node("Conv", ["x", "W", "b"], ["c"], name="conv", pads=[1, 1, 1, 1]),
            helper.make_node("Relu", ["c"], ["y"], name="relu"),
        ],
        [vi("x", [1, 3, 16, 16])],
        [vi("y", [1, 8, 16, 16])],
        [init("W", [8, 3, 3, 3]), init("b", [8])],
    )


def qdq_matmul_graph(m=8, k=32, n=16):
    """Activation and weight both through Q/DQ -> an int8 GEMM."""
    nodes = [
        helper.make_node("QuantizeLinear", ["x", "s", "z"], ["xq"], name="qx"),
        helper.make_node("DequantizeLinear", ["xq", "s", "z"], ["xd"], name="dqx"),
        helper.make_node("DequantizeLinear", ["Wq", "s", "z"], ["Wd"], name="dqw"),
        helper.make_node("MatMul", ["xd", "Wd"], ["y"], name="mm"),
    ]
    inits = [
        numpy_helper.from_array(np.zeros((k, n), np.int8), "Wq"),
        numpy_helper.from_array(np.array(0.1, np.float32), "s"),
        numpy_helper.from_array(np.array(0, np.int8), "z"),
    ]
    return model(nodes, [vi("x", [1, m, k])], [vi("y", [1, m, n])], inits)
