"""Soak: >= 100,000 cycles of the full loop with a null model at a high rate (1 kHz by default),
checking that the schedule does not drift and that memory does not grow.

The null model returns a fixed chunk at once and the loop infers every cycle (open-loop,
execute 1), so every stage runs every cycle: a 64x64 camera thread at 100 fps, the watchdog,
the safety screen, UDP binary commands to a local socket that is never read.

Drift: every cycle's start is compared with its absolute deadline t0 + tick * period; the
lateness of the first and last 10,000 cycles and its linear trend over the run (us per hour)
say whether the loop falls behind. Memory: resident set size sampled every second; growth
from the end of the first 10 % of the run to the end.

    python benchmarks/loop_soak.py --out benchmarks/results/loop_soak
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from loop_common import LoadSampler, SleepPolicy, machine, pick, rss_mb, udp_sink  # noqa: E402

from vla_edge.runtime import ControlLoop, LoopConfig  # noqa: E402
from vla_edge.runtime.actuators import UdpActuator  # noqa: E402
from vla_edge.runtime.cameras import PatternCamera  # noqa: E402
from vla_edge.runtime.timing import DEADLINE, START, TICK, percentiles  # noqa: E402


def drift(rows: np.ndarray, period: float) -> dict:
    t0 = rows[0, DEADLINE] - rows[0, TICK] * period
    late_ms = (rows[:, START] - (t0 + rows[:, TICK] * period)) * 1e3
    hours = (rows[:, START] - rows[0, START]) / 3600
    slope_us_per_hour = float(np.polyfit(hours, late_ms * 1e3, 1)[0]) if len(rows) > 2 else 0.0
    n = min(10_000, len(rows) // 2)
    elapsed = rows[-1, START] - rows[0, START]
    return {
        "lateness_first_10k_ms": percentiles(late_ms[:n]),
        "lateness_last_10k_ms": percentiles(late_ms[-n:]),
        "lateness_trend_us_per_hour": round(slope_us_per_hour, 3),  # fit over load spikes
        "lateness_median_first_last_ms": [
            round(float(np.median(late_ms[:n])), 5),
            round(float(np.median(late_ms[-n:])), 5),
        ],
        "elapsed_s": round(float(elapsed), 3),
        "ticks_advanced": int(rows[-1, TICK] - rows[0, TICK]),
        "ticks_expected_from_elapsed": round(float(elapsed / period), 1),
    }


def memory(samples: list[tuple[float, float, float]], t_start: float, t_stop: float) -> dict:
    """RSS while cycling: samples between the first and the last cycle (the summary built
    after the last cycle copies the whole log, which is not growth)."""
    t = np.array([s[0] for s in samples])
    rss = np.array([s[2] for s in samples])
    keep = (t >= t_start) & (t <= t_stop)
    t, rss = t[keep], rss[keep]
    warm = t >= t_start + 0.1 * (t_stop - t_start)
    base = float(rss[warm][0])
    slope = float(np.polyfit(t[warm], rss[warm], 1)[0]) if warm.sum() > 2 else 0.0
    return {
        "rss_first_cycle_mb": round(float(rss[0]), 2),
        "rss_after_10pct_mb": round(base, 2),
        "rss_last_cycle_mb": round(float(rss[-1]), 2),
        "rss_max_mb": round(float(rss.max()), 2),
        "growth_after_warmup_mb": round(float(rss[-1]) - base, 3),
        "growth_trend_mb_per_hour": round(slope * 3600, 3),
        "samples": int(keep.sum()),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cycles", type=int, default=100_000)
    ap.add_argument("--rate", type=float, default=1000.0)
    ap.add_argument("--rt-priority", type=int, default=0)
    ap.add_argument("--out", default="benchmarks/results/loop_soak")
    args = ap.parse_args()
    sock, port = udp_sink()
    policy = SleepPolicy(0.0, chunk=8, size=64)
    cfg = LoopConfig(
        rate_hz=args.rate,
        execute=1,
        max_cycles=args.cycles,
        log_capacity=args.cycles,
        rt_priority=args.rt_priority or None,
    )
    loop = ControlLoop(
        policy,
        {"front": PatternCamera("front", 64, 64, fps=100)},
        UdpActuator("127.0.0.1", port, fmt="binary"),
        cfg,
    )
    gc.collect()
    objects_before = len(gc.get_objects())
    rss_before = rss_mb()
    t0 = time.time()
    with LoadSampler(every_s=1.0) as load:
        summary = loop.run()
    wall = time.time() - t0
    sock.close()
    gc.collect()
    rows, _ = loop.log.kept()
    res = {
        "machine": machine(),
        "config": {
            "rate_hz": args.rate,
            "cycles": args.cycles,
            "model": "null (fixed chunk)",
            "camera": "pattern 64x64 @ 100 fps",
            "actuator": "udp binary -> local sink",
            "rt_priority": args.rt_priority or None,
        },
        "wall_s": round(wall, 1),
        "summary": pick(summary),
        "drift": drift(rows, 1.0 / args.rate),
        "memory": memory(load.samples, rows[0, START], rows[-1, START]),
        "rss_before_loop_mb": round(rss_before, 2),
        "python_objects_before_after": [objects_before, len(gc.get_objects())],
        "gc_collections": [s["collections"] for s in gc.get_stats()],
        "load": load.summary(),
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(res, indent=2) + "\n")
    print(json.dumps({k: res[k] for k in ("wall_s", "drift", "memory", "load")}, indent=1))
    print(
        json.dumps(
            {
                k: res["summary"][k]
                for k in (
                    "cycles",
                    "achieved_rate_hz",
                    "deadline_misses",
                    "skipped_ticks",
                    "faults",
                )
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
