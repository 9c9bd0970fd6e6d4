"""Estimate what an engine built from an ONNX graph needs in device memory.

weights: every initializer at the precision the engine stores it in (FP32 weights become FP16
under fp16/int8/best builds; quantized weights take one byte). activations: the peak of the
tensors alive at once when the nodes run in graph order at the given batch (TensorRT reuses
memory between tensors that are not alive together, so this is near what it allocates; fusion
makes the real peak lower). Symbolic dimensions other than the batch take a stated value.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from vla_edge.backends.trt.graphutil import GraphView, Problem
from vla_edge.bench.devices import DeviceProfile

# CUDA context + TensorRT, cuBLAS/cuDNN kernels loaded into the Jetson's shared memory (rough,
# measured figures on JetPack 6 are 0.6-1.2 GB depending on the libraries that get loaded).
RUNTIME_OVERHEAD_GB = 0.9
GB = 1024**3
_ITEMSIZE = {
    1: 4,
    2: 1,
    3: 1,
    5: 2,
    6: 4,
    7: 8,
    9: 1,
    10: 2,
    11: 8,
    16: 2,
    17: 1,
    18: 1,
    19: 1,
    20: 1,
    21: 1,
    22: 1,
    23: 1,
}
_FLOAT = {1, 10, 11, 16}


@dataclass
class MemoryEstimate:
    weights_bytes: int = 0
    activation_bytes: int = 0
    assumptions: list[str] = field(default_factory=list)

    def __add__(self, other: MemoryEstimate) -> MemoryEstimate:
        return MemoryEstimate(
            self.weights_bytes + other.weights_bytes,
            self.activation_bytes + other.activation_bytes,
            sorted(set(self.assumptions + other.assumptions)),
        )

    @property
    def total_gb(self) -> float:
        return (self.weights_bytes + self.activation_bytes) / GB + RUNTIME_OVERHEAD_GB

    def to_dict(self) -> dict[str, Any]:
        return {
            "weights_mb": round(self.weights_bytes / 2**20, 2),
            "activations_mb": round(self.activation_bytes / 2**20, 2),
            "runtime_overhead_gb": RUNTIME_OVERHEAD_GB,
            "total_gb": round(self.total_gb, 3),
            "assumptions": self.assumptions,
        }


def _itemsize(elem: int, precision: str) -> int:
    size = _ITEMSIZE.get(elem, 4)
    if elem in _FLOAT and precision in ("fp16", "int8", "best"):
        return min(size, 2)
    return size


def weight_bytes(view: GraphView, precision: str) -> int:
    total = 0
    for name, tensor in view.initializers.items():
        n = 1
        for d in tensor.dims:
            n *= int(d)
        users = view.consumers.get(name, [])
        quantized = users and all(u.op_type == "QuantizeLinear" for u in users)
        total += n * (1 if quantized else _itemsize(tensor.data_type, precision))
    return total


def _fixed_model(model: Any, batch: int, dims: dict[str, int], notes: list[str]) -> Any:
    """Shape-inferred copy with the batch and symbolic dims pinned; the guesses go to `notes`."""
    import onnx

    from vla_edge.bench.shapes import fixed_batch

    init = {t.name for t in model.graph.initializer}
    for inp in model.graph.input:
        if inp.name in init:
            continue
        for axis, dim in enumerate(inp.type.tensor_type.shape.dim):
            if axis and not (dim.HasField("dim_value") and dim.dim_value > 0):
                param = dim.dim_param or f"{inp.name}[{axis}]"
                notes.append(f"{param}={dims.get(param, dims.get('*', 64))}")
    fixed = fixed_batch(model, batch, dims)
    return onnx.shape_inference.infer_shapes(fixed, strict_mode=False)


def _sizes(model: Any, precision: str) -> dict[str, int]:
    sizes = {}
    for vi in (*model.graph.input, *model.graph.output, *model.graph.value_info):
        tt = vi.type.tensor_type
        if not tt.elem_type or not tt.HasField("shape"):
            continue
        n = 1
        for d in tt.shape.dim:
            n *= d.dim_value if d.HasField("dim_value") else 0
        sizes[vi.name] = n * _itemsize(tt.elem_type, precision)
    return sizes


def activation_bytes(
    model: Any, precision: str, batch: int, dims: dict[str, int], notes: list[str]
) -> int:
    """Peak bytes of live non-constant tensors, nodes run in order."""
    inferred = _fixed_model(model, batch, dims, notes)
    sizes = _sizes(inferred, precision)
    graph = inferred.graph
    init = {t.name for t in graph.initializer}
    last_use: dict[str, int] = {}
    for i, node in enumerate(graph.node):
        for name in node.input:
            last_use[name] = i
    for out in graph.output:
        last_use[out.name] = len(graph.node)
    live = {i.name: sizes.get(i.name, 0) for i in graph.input if i.name not in init}
    peak = sum(live.values())
    for i, node in enumerate(graph.node):
        for name in node.output:
            if name:
                live[name] = sizes.get(name, 0)
        peak = max(peak, sum(live.values()))
        for name in [n for n in live if last_use.get(n, -1) <= i]:
            del live[name]
    return peak


def estimate(
    view: GraphView, precision: str, batch: int = 1, dims: dict[str, int] | None = None
) -> MemoryEstimate:
    notes: list[str] = []
    try:
        acts = activation_bytes(view.model, precision, batch, dims or {}, notes)
    except Exception as exc:  # shape inference failed: weights only
        acts = 0
        notes.append(f"activation sizes unknown ({type(exc).__name__})")
    return MemoryEstimate(weight_bytes(view, precision), acts, sorted(set(notes)))


def check_memory(est: MemoryEstimate, device: DeviceProfile, batch: int) -> list[Problem]:
    if not device.memory_gb:
        return []
    usable = device.usable_memory_gb
    need = est.total_gb
    detail = (
        f"weights {est.weights_bytes / 2**20:.1f} MB + activations "
        f"{est.activation_bytes / 2**20:.1f} MB (batch {batch}) + runtime "
        f"~{RUNTIME_OVERHEAD_GB} GB = {need:.2f} GB of {usable:.1f} GB usable on "
        f"{device.title}"
    )
    if need > usable:
        return [
            Problem(
                "error",
                "memory",
                f"does not fit: {detail}",
                "quantize (int8 halves FP16 weights), prune or distill to a smaller "
                "model, lower the max batch, or pick a device with more memory",
            )
        ]
    if need > 0.8 * usable:
        return [
            Problem(
                "warning",
                "memory",
                f"tight: {detail}",
                "leave room for the camera pipeline and the rest of the robot stack",
            )
        ]
    return [Problem("info", "memory", f"fits: {detail}")]
