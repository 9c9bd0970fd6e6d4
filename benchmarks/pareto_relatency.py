"""Re-time a Pareto run's kept bundles side by side (pareto_report.latencies: alternating rounds,
each variant in its own process), with the load average before and after, for a quieter moment
than the full run had.

    python benchmarks/pareto_relatency.py --keep DIR --names teacher,student-small \
        --rounds 4 --iters 100 --threads 1 --out benchmarks/results/NAME.json
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--keep", required=True, type=Path, help="pareto_report.py --keep folder")
    ap.add_argument(
        "--names", required=True, help="comma-separated variants; the first is the reference"
    )
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--iters", type=int, default=100)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", required=True, type=Path)
    args = ap.parse_args()
    spec = importlib.util.spec_from_file_location("pareto_report", HERE / "pareto_report.py")
    pr = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(pr)
    names = args.names.split(",")
    missing = [n for n in names if not (args.keep / n / "manifest.json").is_file()]
    if missing:
        raise SystemExit(f"--keep {args.keep}: expected exported bundles {missing} there")
    before = os.getloadavg()
    lat = pr.latencies({n: args.keep / n for n in names}, args.rounds, args.iters, args.threads)
    after = os.getloadavg()
    ref = lat[names[0]]
    for n, v in lat.items():
        v["speedup"] = ref["p50"] / v["p50"]
        v["graph_speedup"] = ref["graph_p50"] / v["graph_p50"]
        print(
            f"{n:16s} predict p50 {v['p50']:.3f} ms ({v['speedup']:.2f}x)  graph p50 "
            f"{v['graph_p50']:.3f} ms ({v['graph_speedup']:.2f}x)"
        )
    args.out.write_text(
        json.dumps(
            {
                "command": "python benchmarks/pareto_relatency.py " + " ".join(sys.argv[1:]),
                "time": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                "loadavg_before": before,
                "loadavg_after": after,
                "latency": lat,
            },
            indent=2,
        )
        + "\n"
    )


if __name__ == "__main__":
    main()
