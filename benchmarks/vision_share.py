"""The vision encoder's share of a per-frame graph's time, node by node (ONNX Runtime profiling).

Each bundle's per-frame graph runs `--iters` times at batch 1 on held-out demonstration
observations with ORT's profiler on; node times are summed by where the node comes from:
the camera encoders (`/<camera>/...` in the exported node names), or the rest (fusion, head).

    python benchmarks/vision_share.py BUNDLE [BUNDLE ...] --data DEMOS \\
        --out benchmarks/results/vision_share_mt10_vision
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path

import numpy as np


def feeds(bundle, data: str, n: int) -> list[dict]:
    """Per-frame graph feeds from demonstration steps (instruction embedded once per text)."""
    from vla_edge.policy.policy import Policy
    from vla_edge.sim.data import DemoDataset

    samples = DemoDataset(data).samples(n, seed=1)
    out = []
    with Policy.load(bundle.path, backend="onnxrt") as policy:
        for frames, text, state, _ in samples:
            f = policy._image_feeds(frames, batched=False)  # noqa: SLF001 - the graph's own feeds
            f["state"] = np.asarray(state, np.float32)[None]
            emb, mask = policy._instruction((text,))  # noqa: SLF001
            f["instruction_embedding"], f["attention_mask"] = emb, mask
            out.append(f)
    return out


def profile(path: Path, feeds: list[dict], iters: int, threads: int, cameras: list[str]) -> dict:
    import onnxruntime as ort

    with tempfile.TemporaryDirectory() as tmp:
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.enable_profiling = True
        opts.profile_file_prefix = str(Path(tmp) / "prof")
        sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        names = {i.name for i in sess.get_inputs()}
        for k in range(iters):
            sess.run(None, {n: v for n, v in feeds[k % len(feeds)].items() if n in names})
        events = json.loads(Path(sess.end_profiling()).read_text())
    vision = rest = 0.0
    for e in events:
        if e.get("cat") != "Node" or not e["name"].endswith("_kernel_time"):
            continue
        node = e["name"].removesuffix("_kernel_time")
        if any(node.startswith(f"/{c}/") or f"/cameras.{c}/" in node for c in cameras):
            vision += e["dur"]
        else:
            rest += e["dur"]
    total = vision + rest
    return {
        "vision_ms_per_frame": vision / iters / 1e3,
        "rest_ms_per_frame": rest / iters / 1e3,
        "vision_share": vision / total if total else float("nan"),
    }


def main() -> None:
    from vla_edge.bundle import Bundle

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("bundles", nargs="+")
    ap.add_argument("--data", required=True)
    ap.add_argument("--samples", type=int, default=32)
    ap.add_argument("--iters", type=int, default=100)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default="benchmarks/results/vision_share")
    args = ap.parse_args()
    rows = {}
    for path in args.bundles:
        b = Bundle.load(path)
        graph = next(g for g in b.graphs if g["role"] in ("policy", "monolithic"))
        rows[path] = {
            "precision": graph.get("precision", "fp32"),
            **profile(
                b.path / graph["file"],
                feeds(b, args.data, args.samples),
                args.iters,
                args.threads,
                b.spec.camera_names,
            ),
        }
    result = {"args": vars(args), "loadavg": os.getloadavg(), "rows": rows}
    out = Path(args.out)
    out.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    lines = [
        "# The vision encoder's share of the per-frame graph (ONNX Runtime node profiling)",
        "",
        f"`python benchmarks/vision_share.py {' '.join(args.bundles)} --data {args.data}` "
        f"({args.iters} runs at batch 1, {args.threads} thread(s), load average "
        f"{result['loadavg'][0]:.1f}; kernel time summed per node, so graph overhead is excluded).",
        "",
        "| bundle | precision | camera encoders ms/frame | rest ms/frame | encoder share |",
        "| --- | --- | --- | --- | --- |",
    ]
    for path, r in rows.items():
        lines.append(
            f"| {Path(path).name} | {r['precision']} | {r['vision_ms_per_frame']:.2f} | "
            f"{r['rest_ms_per_frame']:.2f} | {r['vision_share']:.0%} |"
        )
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    np.set_printoptions(precision=3)
    main()
