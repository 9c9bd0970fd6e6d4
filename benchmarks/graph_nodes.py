"""Count the nodes of each bundle's per-frame graph, as exported and after ONNX Runtime's graph
optimization (what it actually runs), to explain latency at small sizes.

    python benchmarks/graph_nodes.py BUNDLE [BUNDLE ...] --out benchmarks/results/graph_nodes
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
import tempfile
from pathlib import Path


def count(bundle: Path) -> dict:
    import onnx
    import onnxruntime as ort

    path = bundle / "policy.onnx"
    raw = onnx.load(str(path)).graph.node
    with tempfile.TemporaryDirectory() as tmp:
        so = ort.SessionOptions()
        so.intra_op_num_threads = 1
        so.log_severity_level = 3
        so.optimized_model_filepath = str(Path(tmp) / "opt.onnx")
        ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
        opt = onnx.load(so.optimized_model_filepath).graph.node
    ops = collections.Counter(n.op_type for n in opt)
    return {"exported": len(raw), "ort_optimized": len(opt), "top_ops": ops.most_common(6)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("bundles", nargs="+", type=Path)
    ap.add_argument("--out", default="benchmarks/results/graph_nodes")
    args = ap.parse_args()
    rows = {b.name: count(b) for b in args.bundles}
    out = Path(args.out)
    out.with_suffix(".json").write_text(json.dumps(rows, indent=2) + "\n")
    lines = [
        "# Per-frame graph nodes",
        "",
        f"Command: `python benchmarks/graph_nodes.py {' '.join(sys.argv[1:])}`",
        "",
        "| bundle | nodes exported | nodes after ORT optimization | most common ops (optimized) |",
        "|---|---|---|---|",
    ]
    for name, r in rows.items():
        ops = ", ".join(f"{op} {n}" for op, n in r["top_ops"])
        lines.append(f"| {name} | {r['exported']} | {r['ort_optimized']} | {ops} |")
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
