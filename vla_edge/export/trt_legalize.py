"""Rewrites of an exported ONNX graph into the types TensorRT 10.3 runs, where the rewrite is
exact or (float64 -> float32) what TensorRT itself would do. `vla-edge check` names what it
finds; these are the cases transformers / LeRobot models produce:

- float64 arithmetic (LeRobot's sinusoidal time embedding): computed in float32. TensorRT casts
  DOUBLE to FP32 anyway; here the graph says so and ONNX Runtime computes what the engine will.
  Changes the numbers (the export's parity check judges the result).
- CumSum over int64/int32 (position ids and attention blocks from masks): cast to float32 and
  back, exact while the counts stay below 2**24.
- Equal over bool (mask comparisons): both operands cast to int32, exact.
- NonZero over bool (boolean indexing): the operand cast to float32, exact.
"""

from __future__ import annotations

import numpy as np

DOUBLE, FLOAT, INT32, INT64, BOOL = 11, 1, 6, 7, 9


def legalize(model) -> list[str]:
    """Rewrite `model` (an onnx.ModelProto) in place; returns what was changed, one line each."""
    changes = _doubles_to_float(model)
    types = _types(model)
    nodes = []
    for i, node in enumerate(model.graph.node):
        if not node.name:
            node.name = f"{node.op_type}_{i}"
        nodes.extend(_rewrite(node, types, changes))
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    return changes


def _types(model) -> dict[str, int]:
    import onnx

    inferred = onnx.shape_inference.infer_shapes(model)
    g = inferred.graph
    types = {v.name: v.type.tensor_type.elem_type for v in [*g.value_info, *g.input, *g.output]}
    types.update({t.name: t.data_type for t in g.initializer})
    return types


def _cast(src: str, dst: str, to: int):
    from onnx import helper

    return helper.make_node("Cast", [src], [dst], to=to, name=f"legalize/{dst}")


def _rewrite(node, types: dict[str, int], changes: list[str]) -> list:
    ins = [types.get(i) for i in node.input]
    if node.op_type == "CumSum" and ins[0] in (INT32, INT64):
        src, out = node.input[0], node.output[0]
        node.input[0], node.output[0] = f"{src}/as_float/{node.name}", f"{out}/as_float"
        changes.append(f"CumSum {node.name}: over float32 (exact below 2**24)")
        return [_cast(src, node.input[0], FLOAT), node, _cast(node.output[0], out, ins[0])]
    if node.op_type == "Equal" and BOOL in ins:
        pre = []
        for k, name in enumerate(list(node.input)):
            node.input[k] = f"{name}/as_int32/{node.name}"
            pre.append(_cast(name, node.input[k], INT32))
        changes.append(f"Equal {node.name}: bool operands as int32")
        return [*pre, node]
    if node.op_type == "NonZero" and ins[0] == BOOL:
        src = node.input[0]
        node.input[0] = f"{src}/as_float/{node.name}"
        changes.append(f"NonZero {node.name}: bool operand as float32")
        return [_cast(src, node.input[0], FLOAT), node]
    return [node]


def _doubles_to_float(model) -> list[str]:
    from onnx import numpy_helper

    g, n = model.graph, 0
    for i, t in enumerate(g.initializer):
        if t.data_type == DOUBLE:
            g.initializer[i].CopyFrom(_float(numpy_helper, t))
            n += 1
    for node in g.node:
        for attr in node.attribute:
            if attr.name == "to" and attr.i == DOUBLE:
                attr.i, n = FLOAT, n + 1
            if attr.type == attr.TENSOR and attr.t.data_type == DOUBLE:
                attr.t.CopyFrom(_float(numpy_helper, attr.t))
                n += 1
    for v in [*g.value_info, *g.output]:
        if v.type.tensor_type.elem_type == DOUBLE:
            v.type.tensor_type.elem_type = FLOAT
    return [f"float64 -> float32: {n} constants and casts"] if n else []


def _float(numpy_helper, tensor):
    arr = numpy_helper.to_array(tensor).astype(np.float32)
    return numpy_helper.from_array(arr, tensor.name)
