"""What the robot is (from the agent's probe) and whether this bundle may go there.

The probe's facts map to a device profile (a Jetson by its device-tree model and memory, else a
CUDA machine when TensorRT is there, else an ONNX Runtime CPU host with the probed memory), and
`preflight` runs the `check` rules against it before anything is copied: every reason to refuse
is collected, so the user sees them all at once.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from vla_edge.bench.devices import DeviceProfile, get_device

MIN_PYTHON = (3, 10)
DISK_MARGIN_MB = 64
VENV_EXPANSION = 3.0  # installed size of a venv / size of its wheels (numpy, onnxruntime, ...)

# device-tree model substring -> [(min memory GB, profile)], largest first
JETSONS = {
    "AGX Orin": [(40, "orin-agx-64gb"), (0, "orin-agx-32gb")],
    "Orin NX": [(12, "orin-nx-16gb"), (0, "orin-nx-8gb")],
    "Orin Nano": [(6, "orin-nano-8gb"), (0, "orin-nano-4gb")],
}


def device_profile(info: dict[str, Any], override: str | None = None) -> DeviceProfile:
    """The profile of a probed target (`override`: a profile name given by the user)."""
    if override:
        return get_device(override)
    model = info.get("jetson_model") or ""
    mem_gb = (info.get("memory", {}).get("total_mb") or 0) / 1024
    for key, sizes in JETSONS.items():
        if key in model:
            return get_device(next(name for floor, name in sizes if mem_gb >= floor))
    if info.get("tensorrt"):
        return get_device("cuda")
    mem = info.get("memory", {})
    total, avail = (mem.get("total_mb") or 0) / 1024, (mem.get("available_mb") or 0) / 1024
    return replace(
        get_device("host"),
        title=f"{info.get('arch', '?')} CPU, {info.get('os', '?')} (ONNX Runtime)",
        memory_gb=round(total, 2),
        reserved_gb=round(max(total - avail, 0.0), 2),
    )


def summary(info: dict[str, Any], profile: DeviceProfile) -> dict[str, Any]:
    mem = info.get("memory", {})
    return {
        "arch": info.get("arch"),
        "os": info.get("os"),
        "python": info.get("python"),
        "l4t": info.get("l4t"),
        "jetpack": info.get("jetpack"),
        "tensorrt": info.get("tensorrt"),
        "jetson_model": info.get("jetson_model"),
        "memory_mb": {"total": mem.get("total_mb"), "available": mem.get("available_mb")},
        "disk_free_mb": info.get("disk", {}).get("free_mb"),
        "profile": profile.name,
        "profile_title": profile.title,
    }


def check_bundle(bundle_path: Path, profile: DeviceProfile, precision: str | None, build: bool):
    """The `check` rules for this target: TensorRT rules on a Jetson or GPU (or with --build),
    memory only for an ONNX Runtime host. -> (errors, warnings, report dict)."""
    from vla_edge.targets import CheckOptions, check

    report = check(bundle_path, CheckOptions(device="host", precision=precision), profile)
    problems = report.problems
    if profile.kind == "host" and not build:  # runs with ONNX Runtime: TensorRT rules do not apply
        problems = [p for p in problems if p.code == "memory"]
    errors = [f"check: {p.line()}" for p in problems if p.severity == "error"]
    warnings = [f"check: {p.line()}" for p in problems if p.severity == "warning"]
    return errors, warnings, report.to_dict()


def preflight(info: dict[str, Any], options, need_mb: float) -> list[str]:
    """Reasons the target cannot take this deploy (empty: go ahead)."""
    host = info.get("_host", "the target")
    reasons = []
    py = tuple(int(p) for p in str(info.get("python", "0.0")).split(".")[:2])
    if py < MIN_PYTHON:
        reasons.append(
            f"{host} has Python {info.get('python')}; the runtime needs >= 3.10 (JetPack 6 ships "
            "3.10): upgrade the robot's OS or install python3.10"
        )
    if info.get("_needs_runtime") and not info.get("venv_ok"):
        reasons.append(
            f"{host}: `python3 -m venv` is unavailable there: install it "
            "(`sudo apt install python3-venv`)"
        )
    free = info.get("disk", {}).get("free_mb")
    if free is not None and free < need_mb:
        reasons.append(
            f"{host}: not enough disk at {info.get('disk', {}).get('path')}: this deploy needs "
            f"~{need_mb:.0f} MB, {free} MB free; free space, prune old versions (--keep) or "
            "pick another --dir"
        )
    if options.build and not info.get("tensorrt"):
        reasons.append(
            f"{host} has no TensorRT (`import tensorrt` fails with its python3): --build needs "
            "JetPack's TensorRT 10.3 (`sudo apt install python3-libnvinfer`); deploy without "
            "--build to run with ONNX Runtime"
        )
    elif options.build and not str(info.get("tensorrt")).startswith("10."):
        reasons.append(
            f"{host} has TensorRT {info.get('tensorrt')}; vla-edge builds with TensorRT 10.3 "
            "(JetPack 6.1/6.2)"
        )
    if options.service and not info.get("systemd"):
        reasons.append(
            f"{host} runs no systemd (no /run/systemd/system): --service cannot install a unit "
            "there; deploy without --service and start `vla-edge run DIR/current` yourself"
        )
    elif options.service and not info.get("root") and not info.get("sudo"):
        reasons.append(f"{host}: --service needs root or sudo there to install a systemd unit")
    return reasons


def needed_mb(send_bytes: int, runtime_bytes: int) -> float:
    return (send_bytes + runtime_bytes * (1 + VENV_EXPANSION)) / 2**20 + DISK_MARGIN_MB
