"""Does the policy fit in the device's memory? weights + activations + runtime vs usable memory.

weights: every constant the graphs read, at the precision of the build (roofline storage).
activations: per graph, the peak of tensors alive at once at the batch asked, summed over the
graphs (each engine's execution context holds its own). Both come from vla_edge.bench.memory,
the model `vla-edge check` uses too; activations it could not size are counted.
runtime: CUDA context + TensorRT + cuBLAS/cuDNN kernels on a Jetson (the TensorRT backend's
figure, `vla_edge.backends.trt.memory.RUNTIME_OVERHEAD_GB`). Usable memory: the profile's
memory minus what L4T keeps (`DeviceProfile.reserved_gb`). On a Jetson CPU and GPU share it,
so the camera pipeline and the rest of the robot stack come out of the same headroom.
"""

from __future__ import annotations

from typing import Any

from vla_edge.bench.devices import DeviceProfile
from vla_edge.bench.roofline import GraphCost

GB = 1024**3
TIGHT = 0.8  # above this fraction of usable memory the verdict is "tight"


def runtime_overhead_gb(device: DeviceProfile) -> float:
    if device.kind == "host":
        return 0.15  # ONNX Runtime CPU session + Python, measured order of magnitude
    from vla_edge.backends.trt.memory import RUNTIME_OVERHEAD_GB

    return RUNTIME_OVERHEAD_GB


def verdict(need_gb: float, usable_gb: float) -> str:
    if need_gb > usable_gb:
        return "does not fit"
    return "tight" if need_gb > TIGHT * usable_gb else "fits"


def fits(costs: dict[str, GraphCost], device: DeviceProfile) -> dict[str, Any]:
    """Memory needed by all graphs of a bundle (one engine each, resident together)."""
    weights = sum(c.weight_storage_bytes for c in costs.values())
    acts = sum(c.activation_peak_bytes for c in costs.values())
    runtime = runtime_overhead_gb(device)
    need = (weights + acts) / GB + runtime
    usable = device.usable_memory_gb
    out = {
        "device": device.name,
        "title": device.title,
        "memory_gb": device.memory_gb,
        "usable_gb": usable,
        "weights_mb": weights / 2**20,
        "activations_mb": acts / 2**20,
        "unsized_tensors": sum(c.unsized_tensors for c in costs.values()),
        "runtime_gb": runtime,
        "need_gb": need,
        "kind": "estimate",
    }
    if not usable:
        out["verdict"] = "unknown (no memory size in the profile)"
        return out
    out["verdict"] = verdict(need, usable)
    out["headroom_gb"] = usable - need
    return out
