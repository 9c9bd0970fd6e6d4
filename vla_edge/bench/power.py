"""Attribute power/clock samples (tegrastats or NVML) to the variant that was running.

The harness records, per variant, the monotonic-time intervals in which its worker ran; a
sample taken inside one of them belongs to that variant. Per variant this gives the mean power,
clocks, load and memory, and the energy per inference (mean power x mean latency).
"""

from __future__ import annotations

from typing import Any

import numpy as np

_FIELDS = {
    # tegrastats
    "power_mw": ("power_w", 1e-3),
    "gpu_mhz": ("gpu_clock_mhz", 1.0),
    "gpu_load": ("gpu_load_pct", 1.0),
    "emc_mhz": ("emc_clock_mhz", 1.0),
    "ram_used_mb": ("system_ram_used_mb", 1.0),
    # NVML
    "power_w": ("power_w", 1.0),
    "sm_clock_mhz": ("gpu_clock_mhz", 1.0),
    "mem_clock_mhz": ("mem_clock_mhz", 1.0),
    "gpu_util": ("gpu_load_pct", 1.0),
    "memory_used_mb": ("gpu_memory_used_mb", 1.0),
}


def within(samples: list[dict[str, Any]], intervals: list[tuple[float, float]]) -> list[dict]:
    return [s for s in samples if any(a <= s.get("t", -1) <= b for a, b in intervals)]


def summarize(samples: list[dict[str, Any]]) -> dict[str, float]:
    """Mean of every known field over `samples` (fields absent from all samples are left out)."""
    out: dict[str, float] = {}
    for key, (name, scale) in _FIELDS.items():
        values = [s[key] for s in samples if isinstance(s.get(key), (int, float))]
        if values:
            out[name] = float(np.mean(values)) * scale
    temps = [max(s["temps_c"].values()) for s in samples if s.get("temps_c")]
    if temps:
        out["max_temp_c"] = float(max(temps))
    sources = {s.get("power_source") for s in samples if s.get("power_source")}
    if sources:
        out["power_source"] = ", ".join(sorted(sources))  # type: ignore[assignment]
    out["samples"] = float(len(samples))
    return out


def attach_samples(variants: list[dict[str, Any]], samples: list[dict[str, Any]]) -> None:
    """Add `power` (and energy per inference) to each measured variant that has samples."""
    for v in variants:
        mine = within(samples, [tuple(i) for i in v.get("intervals", [])])
        if not mine:
            v["power"] = None
            continue
        p = summarize(mine)
        if "power_w" in p:
            p["energy_mj_per_inference"] = p["power_w"] * v["latency_ms"]["mean"]
        v["power"] = p
