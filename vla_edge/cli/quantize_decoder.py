"""`vla-edge quantize` on a decoder-LLM (KV-cache) bundle: weight-only INT8 / INT4 or FP16 of the
decoder graphs (compress/quantize/weight_only.py), judged by identical action tokens."""

from __future__ import annotations

from pathlib import Path

from vla_edge.cli.common import console, print_json


def run(
    parent,
    output: Path,
    precision: str,
    form: str,
    block_size: int,
    calib: Path | None,
    holdout: int,
    min_tokens: float | None,
    seed: int,
    force: bool,
    json_out: bool,
) -> None:
    from vla_edge.compress.quantize.weight_only import WeightOnlyConfig, quantize_decoder

    cfg = WeightOnlyConfig(precision, form, block_size, calib, max(holdout, 32), seed, min_tokens)
    with console.status(f"quantizing {parent.path} ({cfg.label}) ..."):
        result = quantize_decoder(parent.path, output, cfg, force=force)
    report = result.manifest["validation"]["quantize"]
    if json_out:
        print_json({"bundle": str(result.path), "graphs": result.graphs, "validation": report})
        return
    graphs = ", ".join(
        f"{g['role']} {g['precision']} {g['size'] / 1e6:.2f} MB" for g in result.graphs
    )
    t, obs = report["tokens"], report["observations"]
    errs = ", ".join(f"{k} {v['max']:.3g} {v['unit']}" for k, v in report["action_error"].items())
    for line in (
        f"wrote {result.path} ({graphs})",
        f"  vs FP32 parent on {obs['samples']} held-out observations "
        f"({obs['real_frames']} real frames, {obs['source']}), both decoded with ONNX Runtime:",
        f"  identical action tokens: {t['identical_tokens']:.2%}; identical sequences: "
        f"{t['identical_sequences']:.2%} ({t['tokens_per_sample']} tokens each)",
        f"  max action error: {errs}",
    ):
        console.print(line, markup=False, highlight=False)
