"""Roofline ESTIMATES (not measurements) of the tiny / small / base presets on every Jetson
Orin profile, at fp32 / fp16 / int8, with the memory-fit verdict, in one table.

Uses the bundles that benchmarks/roofline_calibrate.py made (same --work directory).

    python benchmarks/roofline_presets.py --work /tmp/calib \
        --out benchmarks/results/bench_roofline_presets
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from vla_edge.bench.devices import jetson_devices
from vla_edge.bench.estimate import JETSON_EFFICIENCY
from vla_edge.bench.estimates import CostCache, estimate_bundle, fits_bundle
from vla_edge.bundle import Bundle

PRESETS = ("tiny", "small", "base")


def rows(work: Path) -> list[dict]:
    cache = CostCache()
    out = []
    for preset in PRESETS:
        bundle = Bundle.load(work / f"b-{preset}")
        for precision in ("fp32", "fp16", "int8"):
            for device in jetson_devices():
                est = estimate_bundle(bundle, precision, device, JETSON_EFFICIENCY, 1, cache)
                fit = fits_bundle(bundle, precision, device, 1, cache)
                top = est["bottleneck_layers"][0]
                out.append(
                    {
                        "kind": "estimate",
                        "preset": preset,
                        "precision": precision,
                        "device": device.name,
                        "per_frame_ms": est["per_frame_ms"],
                        "max_rate_hz": est["max_rate_hz"],
                        "instruction_ms": est["instruction_ms"],
                        "bound": est["bound"],
                        "bottleneck": f"{top['layer']} {top['share']:.0%} ({top['bound']})",
                        "need_gb": fit["need_gb"],
                        "verdict": fit["verdict"],
                    }
                )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--work", type=Path, default=Path("/tmp/vla-calib"))
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/bench_roofline_presets"))
    args = ap.parse_args()
    table = rows(args.work)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(table, indent=2) + "\n")
    lines = [
        "# ESTIMATE (roofline model, not a measurement): reference presets on Jetson Orin",
        "",
        f"Efficiency: {JETSON_EFFICIENCY.source}. Batch 1, per camera frame (policy graph).",
        "",
        "| preset | precision | device | per-frame ms | max Hz | instruction ms | bound "
        "| top bottleneck | need GB | fit |",
        "| --- | --- | --- | ---: | ---: | ---: | --- | --- | ---: | --- |",
    ]
    for r in table:
        lines.append(
            f"| {r['preset']} | {r['precision']} | {r['device']} | {r['per_frame_ms']:.2f} | "
            f"{r['max_rate_hz']:.0f} | {r['instruction_ms']:.2f} | {r['bound']} | "
            f"{r['bottleneck']} | {r['need_gb']:.2f} | {r['verdict']} |"
        )
    args.out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
