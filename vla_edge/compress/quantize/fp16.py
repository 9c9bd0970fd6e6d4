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
    amax = tensor_absmax(model, feeds, names)
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
    return Fp16Result(converted, list(ISLAND_OPS), len(decode), overflow)
