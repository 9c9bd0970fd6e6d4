"""ONNX helpers for quantization: pre-processing, the weighted layers of a graph, and the
floating-point ranges of its tensors on real inputs."""

from __future__ import annotations

import logging
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vla_edge.errors import QuantizationError

WEIGHTED_OPS = ("MatMul", "Gemm", "Conv")
_PREFIXES = ("/model/",)
log = logging.getLogger(__name__)


@dataclass
class Layer:
    """One weight tensor and the nodes that use it (several for an unrolled loop, e.g. the flow
    head's Euler steps). `axis` is the weight's output-channel axis."""

    name: str
    block: str
    weight: str
    op_type: str
    axis: int
    nodes: list[str] = field(default_factory=list)

    @property
    def in_text_encoder(self) -> bool:
        return self.name.startswith("text.")


def preprocess(src: Path, dst: Path) -> str:
    """onnxruntime's quant_pre_process (symbolic shapes with auto_merge, basic optimizations,
    ONNX shape inference) into dst; returns what was done."""
    from onnxruntime.quantization import quant_pre_process

    try:
        quant_pre_process(str(src), str(dst), auto_merge=True)
        return "quant_pre_process(auto_merge=True)"
    except Exception as exc:  # onnxruntime raises plain exceptions; fall back, noted in the report
        log.warning("quant_pre_process failed (%s); retrying without optimization", exc)
    try:
        quant_pre_process(str(src), str(dst), auto_merge=True, skip_optimization=True)
        return "quant_pre_process(auto_merge=True, skip_optimization=True)"
    except Exception as exc:
        log.warning("quant_pre_process failed (%s); retrying without symbolic shapes", exc)
    try:  # symbolic shape inference fails on some dynamo graphs (LeRobot SmolVLA): ONNX's own
        quant_pre_process(str(src), str(dst), skip_symbolic_shape=True)
        return "quant_pre_process(skip_symbolic_shape=True)"
    except Exception as exc:
        raise QuantizationError(
            f"cannot pre-process {src.name} for quantization: shape inference failed with and "
            f"without symbolic shapes ({type(exc).__name__}: {exc}); the graph's shapes must be "
            "inferable (export with static non-batch shapes)"
        ) from exc


def layer_name(node_name: str) -> str:
    """'/vision.0/attn/q/MatMul' -> 'vision.0.attn.q'."""
    name = node_name
    for prefix in _PREFIXES:
        if name.startswith(prefix):
            name = "/" + name[len(prefix) :]
    parts = [p for p in name.strip("/").split("/") if p]
    if len(parts) > 1:
        parts = parts[:-1]
    return ".".join(parts) or node_name


def block_name(layer: str) -> str:
    """'vision.0.attn.q' -> 'vision.0'; 'text.blocks.1.mlp.fc1' -> 'text.blocks.1';
    'head.net.0' -> 'head'."""
    parts = layer.split(".")
    if parts[0] == "head":
        return "head"
    for i, p in enumerate(parts):
        if p.isdigit():
            return ".".join(parts[: i + 1])
    return parts[0]


def weight_axis(op_type: str, node, rank: int) -> int:
    if op_type == "Conv":
        return 0
    if op_type == "Gemm":
        trans = next((a.i for a in node.attribute if a.name == "transB"), 0)
        return 0 if trans else 1
    return rank - 1


def weighted_layers(model) -> list[Layer]:
    """Layers whose weight is a float initializer (activation x activation MatMuls excluded)."""
    inits = {t.name: t for t in model.graph.initializer}
    layers: dict[str, Layer] = {}
    for node in model.graph.node:
        if node.op_type not in WEIGHTED_OPS or len(node.input) < 2:
            continue
        w = inits.get(node.input[1])
        if w is None or w.data_type != 1 or len(w.dims) < 2:
            continue
        if node.input[1] not in layers:
            name = layer_name(node.name)
            axis = weight_axis(node.op_type, node, len(w.dims))
            layers[w.name] = Layer(name, block_name(name), w.name, node.op_type, axis)
        layers[w.name].nodes.append(node.name)
    return _unique_names(list(layers.values()))


def _unique_names(layers: list[Layer]) -> list[Layer]:
    counts = Counter(layer.name for layer in layers)
    seen: dict[str, int] = defaultdict(int)
    for layer in layers:
        if counts[layer.name] > 1:
            seen[layer.name] += 1
            layer.name = f"{layer.name}#{seen[layer.name]}"
    return layers


def unshare_initializers(model, node_names: set[str]) -> None:
    """An initializer used both by listed (FP32) nodes and by others gets one copy for the
    listed nodes (the FP16 converter would otherwise cast it back once per consumer, under one
    node name)."""
    import onnx

    inits = {t.name: t for t in model.graph.initializer}
    users: dict[str, set[bool]] = defaultdict(set)
    for n in model.graph.node:
        for i in n.input:
            if i in inits:
                users[i].add(n.name in node_names)
    mixed = {name for name, kinds in users.items() if len(kinds) == 2}
    for name in mixed:
        copy = onnx.TensorProto()
        copy.CopyFrom(inits[name])
        copy.name = _safe(f"{name}__fp32")
        model.graph.initializer.append(copy)
    for node in model.graph.node:
        if node.name in node_names:
            for j, name in enumerate(node.input):
                if name in mixed:
                    node.input[j] = _safe(f"{name}__fp32")


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.:#/-]", "_", name)


def name_nodes(model) -> None:
    """Give every unnamed node a unique name (block lists and reports refer to nodes by name)."""
    seen = set()
    for i, node in enumerate(model.graph.node):
        if not node.name or node.name in seen:
            node.name = f"{node.op_type}_{i}"
        seen.add(node.name)


def float_outputs(model) -> list[str]:
    """Names of every float32 tensor a node produces (after shape inference)."""
    import onnx

    inferred = onnx.shape_inference.infer_shapes(model)
    types = {v.name: v.type.tensor_type.elem_type for v in inferred.graph.value_info}
    types.update({v.name: v.type.tensor_type.elem_type for v in inferred.graph.output})
    return [o for n in model.graph.node for o in n.output if o and types.get(o) == 1]


def tensor_absmax(model, feeds: list[dict[str, np.ndarray]], names: list[str]) -> dict[str, float]:
    """Largest |value| of each named tensor over all feed batches (FP32, ONNX Runtime, graph
    optimizations off so every named tensor exists)."""
    import onnx

    from vla_edge.backends.factory import RunnerOptions, runner_for

    aug = onnx.ModelProto()
    aug.CopyFrom(model)
    known = {o.name for o in aug.graph.output}
    for name in names:
        if name not in known:
            aug.graph.output.append(onnx.ValueInfoProto(name=name))
    out = dict.fromkeys(names, 0.0)
    with runner_for(aug, options=RunnerOptions(optimization="disable")) as runner:
        for batch in feeds:
            values = runner.infer(runner.feeds_from(batch))
            for name in names:
                v = values[name]
                if v.size and np.issubdtype(v.dtype, np.floating):
                    out[name] = max(out[name], float(np.nanmax(np.abs(v))))
    return out
