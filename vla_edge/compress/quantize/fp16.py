"""FP16: weights and compute in half precision, graph inputs and outputs kept FP32, and FP32
islands where half precision overflows or loses the action.

Islands: normalization and softmax (reductions whose sums lose precision in half), the action
decode (everything under the action head: for `bins`, the logits and their ArgMax, where a
near-tie flips a bin; for `flow`, the Euler integration), the clamp to the limits (Min/Max), and
every node whose FP32 output on the calibration frames exceeds half of FP16's largest value.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from vla_edge.compress.quantize.graphs import (
    float_outputs,
    layer_name,
    name_nodes,
    tensor_absmax,
    unshare_initializers,
)

FP16_MAX = 65504.0
OVERFLOW_MARGIN = 0.5  # an FP32 value above half of FP16's maximum stays FP32
OVERFLOW_BATCHES = 4  # calibration batches scanned for overflow (every tensor is read back)
ISLAND_OPS = ("LayerNormalization", "Softmax", "ArgMax", "Min", "Max", "ReduceMean", "Pow")
DECODE_SCOPES = ("head",)


@dataclass
class Fp16Result:
    model: object
    island_ops: list[str]
    decode_nodes: int
    overflow_nodes: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "fp32_island_ops": self.island_ops,
            "fp32_decode_nodes": self.decode_nodes,
            "fp32_overflow_nodes": self.overflow_nodes,
        }


def decode_nodes(model) -> set[str]:
    """Nodes of the action head (the decode) by their export scope."""
    return {n.name for n in model.graph.node if layer_name(n.name).split(".")[0] in DECODE_SCOPES}


def overflowing_nodes(model, feeds: list[dict[str, np.ndarray]]) -> list[dict]:
    """Nodes whose FP32 outputs on real inputs would not fit in FP16 with margin."""
    if not feeds:
        return []
    names = float_outputs(model)
    amax = tensor_absmax(model, feeds[:OVERFLOW_BATCHES], names)
    producer = {o: n.name for n in model.graph.node for o in n.output}
    limit = FP16_MAX * OVERFLOW_MARGIN
    return [
        {"node": producer[t], "tensor": t, "absmax": v}
        for t, v in amax.items()
        if not np.isfinite(v) or v > limit
    ]


def to_fp16(model, feeds: list[dict[str, np.ndarray]], keep_decode: bool = True) -> Fp16Result:
    """Convert an FP32 ModelProto (modified in place) to FP16 with FP32 islands and FP32 I/O."""
    from onnxruntime.transformers.float16 import DEFAULT_OP_BLOCK_LIST, convert_float_to_float16

    name_nodes(model)
    overflow = overflowing_nodes(model, feeds)
    decode = decode_nodes(model) if keep_decode else set()
    block_nodes = decode | {o["node"] for o in overflow}
    island = {n.name for n in model.graph.node if n.op_type in ISLAND_OPS}
    unshare_initializers(model, block_nodes | island)
    converted = convert_float_to_float16(
        model,
        keep_io_types=True,
        op_block_list=sorted(set(DEFAULT_OP_BLOCK_LIST) | set(ISLAND_OPS)),
        node_block_list=sorted(block_nodes),
    )
    _drop_duplicate_nodes(converted)
    converted = _reinfer(converted)
    _fold_round_trips(converted, block_nodes | island)
    return Fp16Result(_reinfer(converted), list(ISLAND_OPS), len(decode), overflow)


def _fold_round_trips(model, fp32_nodes: set[str]) -> None:
    """The converter casts every FP32-island output to FP16 and back to FP32 at the next island
    node, which rounds the values (for the logits before ArgMax, a flipped bin): connect such
    consumers to the FP32 tensor directly."""
    fp32, fp16 = 1, 10
    types = {v.name: v.type.tensor_type.elem_type for v in model.graph.value_info}
    types.update({v.name: v.type.tensor_type.elem_type for v in model.graph.input})
    producer = {o: n for n in model.graph.node for o in n.output}
    outputs = {o.name for o in model.graph.output}
    rewire = {}
    for node in model.graph.node:
        first = producer.get(node.input[0]) if node.op_type == "Cast" else None
        if first is None or first.op_type != "Cast":
            continue
        src = producer.get(first.input[0])
        from_fp32 = types.get(first.input[0]) == fp32 or (
            src is not None and src.name in fp32_nodes
        )
        if not (_cast_to(node) == fp32 and _cast_to(first) == fp16 and from_fp32):
            continue
        if node.output[0] in outputs:  # a graph output keeps its name: pass the FP32 value on
            node.op_type, node.input[0] = "Identity", first.input[0]
            del node.attribute[:]
        else:
            rewire[node.output[0]] = first.input[0]
    for node in model.graph.node:
        for j, name in enumerate(node.input):
            if name in rewire:
                node.input[j] = rewire[name]
    _drop_dead(model)


def _cast_to(node) -> int | None:
    return next((a.i for a in node.attribute if a.name == "to"), None)


def _drop_dead(model) -> None:
    """Remove Cast nodes whose outputs nobody reads (repeat until none)."""
    while True:
        used = {i for n in model.graph.node for i in n.input} | {o.name for o in model.graph.output}
        dead = [n for n in model.graph.node if n.op_type == "Cast" and n.output[0] not in used]
        if not dead:
            return
        for n in dead:
            model.graph.node.remove(n)


def _reinfer(model):
    """The converter can label an FP32 island's tensors FP16 in value_info: infer them anew."""
    import onnx

    del model.graph.value_info[:]
    return onnx.shape_inference.infer_shapes(model)


def _drop_duplicate_nodes(model) -> None:
    """The converter can insert the same Cast twice when one tensor feeds two FP32 islands
    (same name, input and output): keep one copy."""
    seen, keep = set(), []
    for node in model.graph.node:
        key = node.SerializeToString(deterministic=True)
        if key not in seen:
            seen.add(key)
            keep.append(node)
    del model.graph.node[:]
    model.graph.node.extend(keep)
