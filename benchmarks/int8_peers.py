"""All-INT8 on this CPU against its peers, on one bundle's per-frame graph, side by side.

Rows: `vla-edge quantize --precision int8` and `int8-dynamic`, ONNX Runtime's own
`quantize_dynamic` (defaults; per-channel + reduce_range) and `quantize_static` (defaults; QDQ,
MinMax, per tensor). Every row is judged on the same held-out demonstration observations against
the FP32 parent (identical action bins, p99 action error in each dimension's units), and timed
side by side in alternating rounds in one process (`Evaluator.latency_ms`). The CPU's flags
(VNNI or not) are recorded: ORT's guidance is `reduce_range` with per-channel weights on x86
without VNNI.

    python benchmarks/int8_peers.py --bundle exports/mt10-vision-bins \
        --calib data/mt10-vision-demos --calib-size 128 --holdout 1636 \
        --out benchmarks/results/int8_peers_mt10_vision_bins
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
from pathlib import Path

OURS = ("int8", "int8-dynamic")


def cpu_flags() -> dict:
    text = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
    model = next(
        (ln.split(":", 1)[1].strip() for ln in text.splitlines() if "Model name" in ln), ""
    )
    return {"model": model, "avx512_vnni": "avx512_vnni" in text, "avx_vnni": "avx_vnni" in text}


def ours(parent: Path, work: Path, args) -> dict[str, Path]:
    from vla_edge.compress.quantize import QuantizeConfig, quantize

    out = {}
    for precision in OURS:
        cfg = QuantizeConfig(
            precision=precision,
            calib=args.calib,
            calib_size=args.calib_size,
            holdout=args.holdout,
            force=True,
        )
        out[f"vla-edge {precision}"] = quantize(parent, work / precision, cfg, progress=None).path
    return out


def inline_identities(src: Path, dst: Path) -> Path:
    """The legacy exporter writes weights that two cameras share by value once, read through
    Identity nodes; ORT's quantizers want every Conv/MatMul weight as an initializer. Give each
    Identity output its own initializer (same values), nothing else changed."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(src))
    inits = {i.name: i for i in model.graph.initializer}
    keep = []
    for node in model.graph.node:
        if node.op_type == "Identity" and node.input[0] in inits:
            arr = numpy_helper.to_array(inits[node.input[0]])
            model.graph.initializer.append(numpy_helper.from_array(arr, node.output[0]))
        else:
            keep.append(node)
    del model.graph.node[:]
    model.graph.node.extend(keep)
    onnx.save(model, str(dst))
    return dst


def peers(policy_onnx: Path, work: Path, calib_batches: list[dict]) -> dict[str, Path]:
    from onnxruntime.quantization import CalibrationDataReader, quantize_dynamic, quantize_static

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.it = iter(calib_batches)

        def get_next(self):
            return next(self.it, None)

    out = {
        "ORT quantize_dynamic (defaults)": work / "ort_dynamic.onnx",
        "ORT quantize_dynamic (per-channel, reduce_range)": work / "ort_dynamic_pc_rr.onnx",
        "ORT quantize_static (defaults)": work / "ort_static.onnx",
    }
    paths = list(out.values())
    policy_onnx = inline_identities(policy_onnx, work / "fp32_inlined.onnx")
    quantize_dynamic(str(policy_onnx), str(paths[0]))
    quantize_dynamic(str(policy_onnx), str(paths[1]), per_channel=True, reduce_range=True)
    quantize_static(str(policy_onnx), str(paths[2]), Reader())
    return out


def run(args) -> dict:
    from vla_edge.bundle import Bundle
    from vla_edge.compress.quantize.calibration import load_calibration
    from vla_edge.compress.quantize.evaluate import (
        EMBEDDING,
        Evaluator,
        batches,
        observation_feeds,
        run_graph,
    )
    from vla_edge.policy.tokenizer import load_tokenizer

    load = {"before": os.getloadavg()}
    parent = Bundle.load(args.bundle)
    spec = parent.spec
    tok = load_tokenizer(
        spec.instruction.tokenizer, spec.instruction.max_tokens, parent.tokenizer_dir
    )
    data = load_calibration(args.calib, spec, args.calib_size + args.holdout, 0)
    calib, held = data.split(args.holdout, args.calib_size, 0)
    judge = Evaluator(parent, held, tok)
    feeds = observation_feeds(spec, calib, tok)
    enc = parent.graph_path("instruction_encoder")
    feeds[EMBEDDING] = run_graph(enc, batches(feeds, 16), EMBEDDING)
    feeds.pop("input_ids")
    graphs = {"FP32 (parent)": {g["role"]: parent.path / g["file"] for g in parent.graphs}}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for name, path in ours(parent.path, work, args).items():
            b = Bundle.load(path)
            graphs[name] = {g["role"]: b.path / g["file"] for g in b.graphs}
        for name, path in peers(parent.graph_path("policy"), work, batches(feeds, 1)).items():
            graphs[name] = {**graphs["FP32 (parent)"], "policy": path}
        rows = {}
        for name, g in graphs.items():
            m = judge.evaluate(g, name)
            rows[name] = {
                "identical_bins": m.identical_bins,
                "p99_error": {k: v["p99"] for k, v in m.error.items()},
                "units": {k: v["unit"] for k, v in m.error.items()},
                "policy_mb": Path(g["policy"]).stat().st_size / 1e6,
            }
        lat = judge.latency_ms(graphs, iters=args.iters)
        for name, ms in lat.items():
            rows[name]["p50_ms"] = ms
    load["after"] = os.getloadavg()
    return {
        "args": vars(args),
        "cpu": cpu_flags(),
        "calibration": len(calib),
        "heldout": len(held),
        "loadavg": load,
        "rows": rows,
    }


def markdown(result: dict) -> str:
    a, cpu = result["args"], result["cpu"]
    dims = list(next(iter(result["rows"].values()))["p99_error"])
    units = next(iter(result["rows"].values()))["units"]
    vnni = "with AVX512-VNNI" if cpu["avx512_vnni"] else "without VNNI"
    lines = [
        "# All-INT8 against its peers on the per-frame graph, side by side",
        "",
        f"`python benchmarks/int8_peers.py --bundle {a['bundle']} --calib {a['calib']} "
        f"--calib-size {a['calib_size']} --holdout {a['holdout']}`",
        "",
        f"CPU: {cpu['model']} ({vnni}); {result['calibration']} calibration frames, "
        f"{result['heldout']} held-out frames (other demonstration steps), the same for every row; "
        f"latency p50 at batch 1 timed side by side in alternating rounds; load average "
        f"{result['loadavg']['before'][0]:.1f} -> {result['loadavg']['after'][0]:.1f}.",
        "",
        "| variant | identical bins | "
        + " | ".join(f"p99 err {d} ({units[d]})" for d in dims)
        + " | policy.onnx MB | p50 ms |",
        "|---|---|" + "---|" * len(dims) + "---|---|",
    ]
    for name, r in result["rows"].items():
        errs = " | ".join(f"{r['p99_error'][d]:.3g}" for d in dims)
        lines.append(
            f"| {name} | {r['identical_bins']:.1%} | {errs} | {r['policy_mb']:.2f} | "
            f"{r['p50_ms']:.2f} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--bundle", required=True)
    ap.add_argument("--calib", required=True)
    ap.add_argument("--calib-size", type=int, default=128)
    ap.add_argument("--holdout", type=int, default=1636)
    ap.add_argument("--iters", type=int, default=60)
    ap.add_argument("--out", default="benchmarks/results/int8_peers")
    args = ap.parse_args()
    result = run(args)
    out = Path(args.out)
    out.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    out.with_suffix(".md").write_text(markdown(result))
    print(markdown(result))


if __name__ == "__main__":
    main()
