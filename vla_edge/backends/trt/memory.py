"""What an engine built from an ONNX graph needs in device memory, for `vla-edge check`.

The sizes come from the one memory model `vla-edge benchmark` uses too
(`vla_edge.bench.memory`): weights at the precision the engine stores them in, and the peak of
the activations alive at once at the given batch. Symbolic dimensions other than the batch take
a stated value; activations whose size cannot be inferred are counted and reported, not taken
as 0 bytes.
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


@dataclass
class MemoryEstimate:
    weights_bytes: int = 0
    activation_bytes: int = 0
    assumptions: list[str] = field(default_factory=list)
    unsized_tensors: int = 0

    def __add__(self, other: MemoryEstimate) -> MemoryEstimate:
        """Graphs resident together: each engine's execution context holds its own activation
        memory, so weights and activations both add up (as in vla_edge.bench.fits)."""
        return MemoryEstimate(
            self.weights_bytes + other.weights_bytes,
            self.activation_bytes + other.activation_bytes,
            sorted(set(self.assumptions + other.assumptions)),
            self.unsized_tensors + other.unsized_tensors,
        )

    @property
    def total_gb(self) -> float:
        return (self.weights_bytes + self.activation_bytes) / GB + RUNTIME_OVERHEAD_GB

    def to_dict(self) -> dict[str, Any]:
        return {
            "weights_mb": round(self.weights_bytes / 2**20, 2),
            "activations_mb": round(self.activation_bytes / 2**20, 2),
            "unsized_tensors": self.unsized_tensors,
            "runtime_overhead_gb": RUNTIME_OVERHEAD_GB,
            "total_gb": round(self.total_gb, 3),
            "assumptions": self.assumptions,
        }


def _guessed_dims(model: Any, dims: dict[str, int]) -> list[str]:
    """The values symbolic non-batch input axes take (what the estimate assumed)."""
    init = {t.name for t in model.graph.initializer}
    notes = []
    for inp in model.graph.input:
        if inp.name in init:
            continue
        for axis, dim in enumerate(inp.type.tensor_type.shape.dim):
            if axis and not (dim.HasField("dim_value") and dim.dim_value > 0):
                param = dim.dim_param or f"{inp.name}[{axis}]"
                notes.append(f"{param}={dims.get(param, dims.get('*', 64))}")
    return notes


def estimate(
    view: GraphView, precision: str, batch: int = 1, dims: dict[str, int] | None = None
) -> MemoryEstimate:
    """Memory of one graph as TensorRT would build it from the graph as it is (an int8 build
    of a graph without Q/DQ keeps float weights: TensorRT 10.3 does not quantize it)."""
    from vla_edge.bench.memory import graph_memory

    dims = dims or {}
    notes = _guessed_dims(view.model, dims)
    try:
        mem = graph_memory(
            view.model, precision, batch, dims, "tensorrt", assume_int8_weights=False
        )
    except Exception as exc:  # shape inference failed on an exotic graph: say so
        notes.append(f"activation sizes unknown ({type(exc).__name__}: {exc})"[:200])
        outputs = sum(len(n.output) for n in view.model.graph.node)
        return MemoryEstimate(0, 0, sorted(set(notes)), unsized_tensors=outputs)
    notes += [n for n in mem.notes if "could not be sized" in n]
    return MemoryEstimate(
        mem.weights_bytes, mem.activation_bytes, sorted(set(notes)), mem.unsized_count
    )


def check_memory(est: MemoryEstimate, device: DeviceProfile, batch: int) -> list[Problem]:
    if not device.memory_gb:
        return []
    usable = device.usable_memory_gb
    need = est.total_gb
    unsized = (
        f", {est.unsized_tensors} activation tensor(s) not sized" if est.unsized_tensors else ""
    )
    detail = (
        f"weights {est.weights_bytes / 2**20:.1f} MB + activations "
        f"{est.activation_bytes / 2**20:.1f} MB (batch {batch}{unsized}) + runtime "
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
