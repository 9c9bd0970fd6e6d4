"""Explicit Q/DQ insertion in the form TensorRT 10.3 fuses.

For each chosen layer: the weight becomes an INT8 initializer, quantized symmetrically per output
channel (axis 0 for Conv and for Gemm with transB=1, the last axis for MatMul), followed by a
DequantizeLinear; the activation input gets a QuantizeLinear -> DequantizeLinear pair per chosen
consumer (per tensor, symmetric: zero point 0, INT8, the scale from calibration). Biases stay
float (TensorRT fuses them in float; it has no INT32 DequantizeLinear).
MatMuls between two activations (attention) are not touched.
"""

from __future__ import annotations

import numpy as np

from vla_edge.compress.quantize.graphs import Layer
from vla_edge.errors import CalibrationError

QMAX = 127.0
MIN_SCALE = 1e-12


def weight_qparams(w: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric per-channel INT8: (int8 weight, float32 scale per channel)."""
    reduce = tuple(i for i in range(w.ndim) if i != axis)
    amax = np.abs(w).max(axis=reduce).astype(np.float64)
    scale = np.where(amax > 0, amax / QMAX, 1.0)
    shape = [1] * w.ndim
    shape[axis] = -1
    q = np.clip(np.rint(w / scale.reshape(shape)), -QMAX, QMAX).astype(np.int8)
    return q, scale.astype(np.float32)


def activation_scale(amax: float) -> np.float32:
    return np.float32(max(float(amax), MIN_SCALE) / QMAX)


class _Builder:
    def __init__(self, model) -> None:
        from onnx import numpy_helper

        self.model, self.nh = model, numpy_helper
        self.inits = {t.name: t for t in model.graph.initializer}
        self.new_inits: list = []
        self.weight_dq: list = []
        self.act_qdq: dict[str, list] = {}

    def const(self, name: str, value: np.ndarray) -> str:
        self.new_inits.append(self.nh.from_array(np.asarray(value), name))
        return name

    def weight(self, layer: Layer) -> str:
        from onnx import helper

        w = self.nh.to_array(self.inits[layer.weight])
        q, scale = weight_qparams(w, layer.axis)
        base = layer.weight
        args = [
            self.const(f"{base}_int8", q),
            self.const(f"{base}_scale", scale),
            self.const(f"{base}_zero_point", np.zeros(scale.shape, np.int8)),
        ]
        out = f"{base}_dequantized"
        self.weight_dq.append(
            helper.make_node(
                "DequantizeLinear", args, [out], name=f"{base}_DequantizeLinear", axis=layer.axis
            )
        )
        return out

    def activation(self, tensor: str, amax: float, consumer: str) -> str:
        """A dedicated QuantizeLinear -> DequantizeLinear pair per consumer, same scale (ONNX
        Runtime fuses an INT8 MatMul only when its Q/DQ are not shared; TensorRT takes both)."""
        from onnx import helper

        tag = f"{tensor}_for_{consumer}"
        scale = self.const(f"{tag}_scale", activation_scale(amax))  # own copies: ORT's CSE
        zero = self.const(f"{tag}_zero_point", np.int8(0))  # would merge shared pairs again
        q = helper.make_node(
            "QuantizeLinear", [tensor, scale, zero], [f"{tag}_quantized"], name=f"{tag}_Quantize"
        )
        dq = helper.make_node(
            "DequantizeLinear",
            [q.output[0], scale, zero],
            [f"{tag}_dequantized"],
            name=f"{tag}_Dequantize",
        )
        self.act_qdq.setdefault(consumer, []).extend([q, dq])
        return dq.output[0]


def insert_qdq(model, layers: list[Layer], act_amax: dict[str, float]):
    """Return a copy of `model` with the given layers quantized (weights and activations)."""
    import onnx

    out = onnx.ModelProto()
    out.CopyFrom(model)
    b = _Builder(out)
    by_node = {name: layer for layer in layers for name in layer.nodes}
    for layer in layers:
        dq = b.weight(layer)
        for node in out.graph.node:
            if node.name in layer.nodes:
                node.input[1] = dq
    for node in out.graph.node:
        if node.name in by_node:
            x = node.input[0]
            if x not in act_amax:
                raise CalibrationError(
                    f"no calibrated range for `{x}` (input of {node.name}): calibrate again"
                )
            node.input[0] = b.activation(x, act_amax[x], node.name)
    _reorder(out, b)
    _drop_unused(out)
    return out


def _reorder(model, b: _Builder) -> None:
    """Weight DQs first; each activation Q/DQ pair right before its consumer."""
    nodes = list(b.weight_dq)
    for node in model.graph.node:
        nodes += b.act_qdq.get(node.name, [])
        nodes.append(node)
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    model.graph.initializer.extend(b.new_inits)


def _drop_unused(model) -> None:
    used = {i for n in model.graph.node for i in n.input} | {o.name for o in model.graph.output}
    keep = [t for t in model.graph.initializer if t.name in used]
    del model.graph.initializer[:]
    model.graph.initializer.extend(keep)
