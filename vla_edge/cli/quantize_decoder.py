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
    budget=None,
    keep_failed: bool = False,
) -> None:
    from vla_edge.compress.quantize.weight_only import WeightOnlyConfig, quantize_decoder

    cfg = WeightOnlyConfig(
        precision, form, block_size, calib, max(holdout, 32), seed, min_tokens, budget, keep_failed
    )
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
        *_verdict_lines(report, result.manifest),
    ):
        console.print(line, markup=False, highlight=False)


def _verdict_lines(report: dict, manifest: dict) -> list[str]:
    from vla_edge.budget import Budget
    from vla_edge.bundle import failure_reasons

    v = report.get("budget")
    if not v:
        return []
    spread = ", ".join(f"{k} {d['p99_over_std']:.2f}x std" for k, d in v["dims"].items())
    verdict = "met" if v["passed"] else "MISSED: " + "; ".join(v["reasons"])
    lines = [
        f"  p99 action error: {spread}; budget {Budget.from_dict(v['budget']).describe()}: "
        f"{verdict}"
    ]
    if failure_reasons(manifest):
        lines.append(
            "  FAILED: kept with --keep-failed; predict/run/eval refuse it without --allow-failed"
        )
    return lines
