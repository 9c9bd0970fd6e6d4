"""`benchmark(bundles, options)`: measure where possible, estimate elsewhere, side by side.

- On a Jetson (detected from the system) every Orin device asked for is estimated, and the
  Jetson itself is measured: latency per variant, memory, tegrastats power and clocks, the
  nvpmodel power mode and a warning when clocks are not locked.
- `--device cuda` measures on a discrete NVIDIA GPU (ONNX Runtime CUDA provider, TensorRT
  engines built for it), with NVML power and clocks when pynvml is installed.
- `--device host` measures on this CPU with ONNX Runtime and puts the roofline estimate for
  the measured host profile beside it, with the estimator's error.
- Anywhere else (`--device orin` on an x86 machine): a labelled roofline estimate per device.
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from vla_edge.bench import calibrate, jetson, nvml
from vla_edge.bench.devices import ALIASES, DEVICES, DeviceProfile, get_device, jetson_devices
from vla_edge.bench.estimate import GPU_EFFICIENCY, JETSON_EFFICIENCY
from vla_edge.bench.estimates import CostCache, estimate_bundle, estimate_precisions, fits_bundle
from vla_edge.bench.harness import MeasureConfig, bundle_spec, measure
from vla_edge.bench.power import attach_samples
from vla_edge.bench.variants import load_with_lineage, plan_variants
from vla_edge.errors import DeviceError, InputError

ORIN_FAMILY = ["orin-agx-64gb", "orin-nx-16gb", "orin-nano-8gb"]


@dataclass
class BenchmarkOptions:
    device: str = "host"
    backends: list[str] = field(default_factory=list)  # empty: the device's default
    precisions: list[str] | None = None
    measure: MeasureConfig = field(default_factory=MeasureConfig)

    def __post_init__(self) -> None:
        targets(self.device)  # raises DeviceError for an unknown name


# precisions a --precision filter may name besides the bundles' own: estimates and engines
KNOWN_PRECISIONS = ("fp32", "tf32", "fp16", "bf16", "int8", "best", "fp8", "fp4")


def _check_precisions(bundles: list, asked: list[str] | None) -> None:
    """A --precision that matches no bundle, estimate or engine would benchmark nothing."""
    known = {*KNOWN_PRECISIONS, *(b.precision for b in bundles)}
    unknown = [p for p in asked or [] if p not in known]
    if unknown:
        raise InputError(
            f"--precision {', '.join(unknown)} matches nothing to benchmark: expected one of "
            f"{sorted(known)} (the bundles' own precisions and those estimated)"
        )


def targets(device: str) -> list[DeviceProfile]:
    """Profiles a --device value stands for: `orin` is AGX Orin, Orin NX and Orin Nano."""
    name = device.lower()
    if name == "orin":
        return [DEVICES[n] for n in ORIN_FAMILY]
    if name in ("host", "cuda"):
        return [DEVICES[name]]
    if name not in DEVICES and name not in ALIASES:
        known = ", ".join(
            ["orin", *sorted(a for a in ALIASES if a.startswith("orin")), "host", "cuda"]
        )
        raise DeviceError(
            f"unknown device {device!r}: choose one of {known} (or a full profile name)"
        )
    return [get_device(name)]


def system_info() -> dict[str, Any]:
    import platform

    info: dict[str, Any] = {"machine": platform.machine(), "cpu": calibrate.cpu_name()}
    found = jetson.detect()
    info["jetson"] = asdict(found) if found else None
    info["gpu"] = nvml.device_info()
    return info


def benchmark(paths: list[Path], options: BenchmarkOptions) -> dict[str, Any]:
    """The full report (a dict ready for JSON, Markdown and plots)."""
    profiles = targets(options.device)
    system = system_info()
    report: dict[str, Any] = {
        "kind": "benchmark",
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "device_asked": options.device,
        "system": system,
        "measured": None,
        "estimates": [],
        "fits": [],
        "estimator_error": [],
        "warnings": [],
    }
    bundles = [b for b, _ in load_with_lineage(paths)]
    _check_precisions(bundles, options.precisions)
    report["warnings"] += [
        f"{b.path} is marked FAILED ({'; '.join(b.failure_reasons)}): timed here, but "
        "predict/run/eval refuse it without --allow-failed"
        for b in bundles
        if b.failure_reasons
    ]
    cache = CostCache()
    mode = _mode(options.device, system)
    report["mode"] = mode
    if mode != "estimate":
        report["measured"] = _measure(paths, options, mode, system, report["warnings"])
    if mode == "host":
        host = calibrate.host_profile(calibrate.quiet_peaks(options.measure.threads))
        profiles = [host]
        report["host_profile"] = host.to_dict()
    if mode == "cuda":
        profiles = _gpu_profiles(system) or profiles
    if mode == "jetson" and system["jetson"]["profile"]:
        local = get_device(system["jetson"]["profile"])
        profiles = [local] + [p for p in profiles if p.name != local.name]
    _estimate(report, bundles, profiles, options, cache)
    _fits(report, bundles, profiles, options, cache)
    report["estimator_error"] = estimator_error(report)
    return report


def _mode(device: str, system: dict[str, Any]) -> str:
    name = device.lower()
    if name == "host":
        return "host"
    if name == "cuda":
        if system["gpu"] is None and not _ort_has_cuda():
            raise DeviceError(
                "--device cuda asked, but no NVIDIA GPU was found (pynvml reports none and "
                "onnxruntime has no CUDAExecutionProvider): install pynvml and onnxruntime-gpu "
                "on a GPU machine, or use --device host here / --device orin for an estimate"
            )
        return "cuda"
    if system["jetson"] is not None and name.startswith("orin"):
        return "jetson"
    return "estimate"


def _gpu_profiles(system: dict[str, Any]) -> list[DeviceProfile]:
    """The profile of the GPU NVML names, when there is one (H100), so the estimate runs beside
    the measurement there too; an unknown GPU gets no estimate."""
    name = ((system.get("gpu") or {}).get("name") or "").upper()
    return [DEVICES["h100"]] if "H100" in name else []


def _ort_has_cuda() -> bool:
    try:
        import onnxruntime as ort
    except ImportError:
        return False
    return "CUDAExecutionProvider" in ort.get_available_providers()


def _default_backends(mode: str) -> tuple[list[str], list[str] | None]:
    if mode == "host":
        return ["onnxrt"], ["cpu"]
    gpu = ["cuda", "cpu"] if _ort_has_cuda() else ["cpu"]
    from vla_edge import deps

    return (["trt", "onnxrt"] if deps.available("tensorrt") else ["onnxrt"]), gpu


def _measure(paths, options, mode, system, warnings) -> dict[str, Any]:
    backends, providers = _default_backends(mode)
    backends = options.backends or backends
    engine_device = system["jetson"]["profile"] if mode == "jetson" else None
    plan = plan_variants(paths, backends, options.precisions, providers, engine_device)
    state = jetson.system_state() if mode == "jetson" else None
    if state and state.get("warning"):
        warnings.append(state["warning"])
    sampler = jetson.TegrastatsSampler() if mode == "jetson" else nvml.NvmlSampler()
    sampler.start()
    load = [_load()]
    try:
        variants = measure(plan, options.measure, bundle_spec(plan.variants[0].bundle))
    finally:
        samples = sampler.stop()
        load.append(_load())
    cores = os.cpu_count() or 1
    if max(load) > cores:
        warnings.append(
            f"the machine was busy (1-min load average up to {max(load):.1f} on {cores} cores): "
            "wall-clock latencies include waiting for the CPU; with --threads 1 the CPU-time "
            "column (cpu p50) is the compute time regardless"
        )
    attach_samples(variants, samples)
    if getattr(sampler, "note", ""):
        warnings.append(sampler.note)
    return {
        "kind": "measured",
        "device": mode,
        "title": _measured_title(mode, system),
        "config": asdict(options.measure),
        "reference": plan.reference.label if plan.reference else None,
        "variants": variants,
        "skipped": plan.skipped,
        "system_state": state,
        "loadavg": load,
    }


def _load() -> float:
    try:
        return os.getloadavg()[0]
    except OSError:
        return 0.0


def _measured_title(mode: str, system: dict[str, Any]) -> str:
    if mode == "jetson":
        j = system["jetson"]
        return f"{j['model']} (L4T {j['l4t'] or '?'})"
    if mode == "cuda":
        return (system["gpu"] or {}).get("name", "CUDA GPU")
    return f"host CPU: {system['cpu']}"


def _efficiency(profile: DeviceProfile, threads: int | None):
    if profile.kind == "host":
        return calibrate.host_efficiency(int(threads or _threads_of(profile)))
    return JETSON_EFFICIENCY if profile.kind == "jetson" else GPU_EFFICIENCY


def _threads_of(profile: DeviceProfile) -> int:
    return os.cpu_count() or 1


def _estimate(report, bundles, profiles, options, cache) -> None:
    batch = options.measure.batch
    for bundle in bundles:
        for precision in estimate_precisions(bundle, options.precisions):
            if profiles[0].kind == "host" and precision != bundle.precision:
                continue  # ONNX Runtime on the CPU runs the bundle's own precision only
            for profile in profiles:
                if not profile.fp32_tflops:
                    continue
                eff = _efficiency(profile, options.measure.threads)
                report["estimates"].append(
                    estimate_bundle(bundle, precision, profile, eff, batch, cache)
                )


def _fits(report, bundles, profiles, options, cache) -> None:
    devices = jetson_devices() if profiles[0].kind == "jetson" else profiles
    for bundle in bundles:
        for precision in estimate_precisions(bundle, options.precisions):
            if profiles[0].kind == "host" and precision != bundle.precision:
                continue
            for profile in devices:
                report["fits"].append(
                    fits_bundle(bundle, precision, profile, options.measure.batch, cache)
                )


def _comparable(variant: dict[str, Any], device: str) -> bool:
    """A variant whose run the estimate models: ONNX Runtime on the CPU for the host profile;
    TensorRT (or ORT's CUDA/TensorRT providers) on a Jetson's GPU."""
    if device == "host":
        return variant["backend"] == "onnxrt"
    gpu_providers = {"cuda", "tensorrt", "CUDAExecutionProvider", "TensorrtExecutionProvider"}
    return variant["backend"] == "trt" or bool(gpu_providers & set(variant["providers"] or []))


def estimator_error(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Estimate vs measurement for every measured ONNX Runtime/TensorRT variant that has an
    estimate on the machine it ran on (the host profile, or the detected Jetson)."""
    measured = report.get("measured")
    if not measured:
        return []
    local = report["estimates"][0]["device"] if report["estimates"] else None
    rows = []
    for v in measured["variants"]:
        if not _comparable(v, measured["device"]):
            continue
        est = next(
            (e for e in report["estimates"] if e["device"] == local
             and e["bundle_path"] == v["bundle"] and e["precision"] == v["precision"]),
            None,
        )  # fmt: skip
        if est is None:
            continue
        p50, e = v["latency_ms"]["p50"], est["per_frame_ms"]
        row = {
            "variant": v["label"],
            "device": local,
            "measured_p50_ms": p50,
            "estimate_ms": e,
            "error_pct": (e / p50 - 1) * 100 if p50 else None,
        }
        if measured["device"] == "host" and measured["config"].get("threads") == 1:
            cpu = v["cpu_ms"]["p50"]  # one thread: CPU time is compute time, load or not
            row.update(measured_cpu_p50_ms=cpu, error_vs_cpu_pct=(e / cpu - 1) * 100)
        rows.append(row)
    return rows
