"""`vla-edge quantize BUNDLE --precision fp16|int8|int8-dynamic|mixed -o OUT`: a quantized
bundle, validated against its parent on held-out frames."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from vla_edge.cli.common import BundleArg, ForceOpt, JsonOpt, command, console, print_json


def register(app: typer.Typer) -> None:
    command(app, "quantize")(quantize)


def quantize(
    bundle: BundleArg,
    output: Annotated[Path, typer.Option("--output", "-o", help="Bundle directory to write.")],
    precision: Annotated[
        str,
        typer.Option(
            help="fp16 | int8 (static Q/DQ, TensorRT) | int8-dynamic (CPU) | mixed; decoder "
            "(KV-cache) bundles: int8-weight | int4-weight | fp16"
        ),
    ] = "int8",
    calib: Annotated[
        Path | None,
        typer.Option(
            help="Calibration data: demonstrations, a LeRobotDataset v3 folder (lerobot:PATH), "
            "a directory of images + instructions.txt, or a .npz. Without it, random frames "
            "are used (and flagged)."
        ),
    ] = None,
    calib_size: Annotated[int, typer.Option(help="Calibration samples to use.")] = 128,
    holdout: Annotated[int, typer.Option(help="Held-out samples to validate on.")] = 64,
    calib_method: Annotated[str, typer.Option(help="minmax | entropy | percentile")] = "minmax",
    budget: Annotated[
        str | None,
        typer.Option(
            help="Accuracy budget, e.g. 'spread=0.5', 'bins=0.99' or 'dx=0.002,range=0.01' (p99 "
            "error as a multiple of the parent's std on held-out frames / in the action's units "
            "/ as a fraction of its range). Default: spread=2 (+ bins=0.7 for bins heads). "
            "Missing it fails the command and writes nothing (see --keep-failed)."
        ),
    ] = None,
    encoder: Annotated[
        str, typer.Option(help="Instruction encoder precision: auto | fp32 | fp16 | int8-dynamic")
    ] = "auto",
    granularity: Annotated[str, typer.Option(help="Sensitivity unit: layer | block")] = "layer",
    mixed_base: Annotated[
        str, typer.Option(help="mixed starts from: int8 | int8-dynamic")
    ] = "int8",
    sensitivity: Annotated[
        bool, typer.Option("--sensitivity", help="Write the per-layer sensitivity report.")
    ] = False,
    sensitivity_samples: Annotated[
        int, typer.Option(help="Held-out samples per sensitivity run (one run per layer).")
    ] = 32,
    eval_suite: Annotated[
        str | None, typer.Option("--eval", help="Closed-loop task gate on this sim suite.")
    ] = None,
    eval_episodes: Annotated[int, typer.Option(help="Episodes for --eval.")] = 20,
    keep_failed: Annotated[
        bool,
        typer.Option(
            "--keep-failed",
            help="Write a bundle that misses its budget anyway, marked failed in its manifest "
            "(predict/run/eval then refuse it without --allow-failed).",
        ),
    ] = False,
    seed: Annotated[int, typer.Option(help="Seed of the calibration/held-out split.")] = 0,
    weight_format: Annotated[
        str, typer.Option("--format", help="Decoder weight-only form: ort (MatMulNBits) | tensorrt")
    ] = "ort",
    block_size: Annotated[int, typer.Option(help="Decoder weight-only block size (ort).")] = 32,
    min_tokens: Annotated[
        float | None, typer.Option(help="Decoder: least fraction of identical action tokens.")
    ] = None,
    force: ForceOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """Quantize a bundle (FP16, INT8, mixed) and check it against its parent."""
    from vla_edge.bundle import Bundle
    from vla_edge.compress.quantize import Budget, QuantizeConfig
    from vla_edge.compress.quantize import quantize as run
    from vla_edge.compress.quantize.api import calib_path
    from vla_edge.outputs import check_output

    check_output(output, force, inputs=[bundle, calib and calib_path(calib)])
    parent = Bundle.load(bundle)
    if parent.layout == "kv-cache":  # a decoder LLM: weight-only INT8/INT4 or FP16
        from vla_edge.cli import quantize_decoder

        return quantize_decoder.run(
            parent,
            output,
            precision,
            weight_format,
            block_size,
            calib,
            holdout,
            min_tokens,
            seed,
            force,
            json_out,
            Budget.parse(budget, parent.spec) if budget is not None else None,
            keep_failed,
        )
    cfg = QuantizeConfig(
        precision=precision,
        calib=calib,
        calib_size=calib_size,
        holdout=holdout,
        calib_method=calib_method,
        budget=Budget.parse(budget, parent.spec) if budget is not None else None,
        encoder_precision=encoder,
        granularity=granularity,
        mixed_base=mixed_base,
        sensitivity=sensitivity,
        sensitivity_samples=sensitivity_samples,
        eval_suite=eval_suite,
        eval_episodes=eval_episodes,
        keep_failed=keep_failed,
        seed=seed,
        force=force,
    )
    with console.status(f"quantizing {bundle} ({precision}) ...") as status:
        say = (lambda m: None) if json_out else (lambda m: status.update(f"[dim]{m}[/dim]"))
        result = run(parent, output, cfg, progress=say)
    if json_out:
        print_json({"bundle": str(result.path), "graphs": result.graphs, **_validation(result)})
        return
    for line in summary_lines(result):
        console.print(line, markup=False)


def _validation(result) -> dict:
    m = result.manifest
    return {
        "validation": m["validation"],
        "lineage": m["lineage"],
        "failed": m.get("failed"),
    }


def summary_lines(result) -> list[str]:
    val = result.manifest["validation"]
    q = val["quantization"]
    graphs = ", ".join(
        f"{g['role']} {g['precision']} {g['size'] / 1e6:.2f} MB" for g in result.graphs
    )
    lines = [f"wrote {result.path} ({graphs})"]
    held = q["heldout"]
    src = "random frames" if held["random_frames"] else held["source"]
    lines.append(
        f"  vs parent on {held['heldout_samples']} held-out samples ({src}), calibrated on "
        f"{held['calibration_samples']}{_asked(result.manifest)}:"
    )
    if q["identical_bins"] is not None:
        lines.append(f"  identical action bins: {q['identical_bins']:.2%}")
    dims = q.get("per_dimension") or {}
    errs = ", ".join(
        f"{k} {v['p99']:.3g} {v['unit']}"
        + (f" ({dims[k]['p99_over_std']:.2f}x std)" if k in dims else "")
        for k, v in q["action_error"].items()
    )
    lines.append(f"  p99 action error: {errs}")
    verdict = "met" if q["passed"] else "MISSED: " + "; ".join(q["violations"])
    lines.append(f"  budget {_budget(q['budget'])}: {verdict}")
    from vla_edge.bundle import failure_reasons

    if failure_reasons(result.manifest):
        lines.append(
            "  FAILED: kept with --keep-failed; predict/run/eval refuse it without --allow-failed"
        )
    lines += [
        f"  {name}: {c['bytes'] / 1e6:.2f} MB, {c['latency_ms_p50']:.2f} ms/frame "
        "(ORT CPU, p50, timed side by side)"
        for name, c in q["cost"].items()
    ]
    if "mixed" in val:
        lines.append(
            f"  float layers ({len(val['mixed']['float_groups'])}): "
            + ", ".join(val["mixed"]["float_groups"])
        )
    if "sensitivity" in val:
        lines.append(f"  sensitivity: {', '.join(val['sensitivity'].values())}")
    if "task" in val:
        lines.append(f"  task gate: {_task(val['task'])}")
    return lines


def _asked(manifest: dict) -> str:
    asked = manifest.get("lineage", {}).get("settings", {}).get("requested")
    if not asked:
        return ""
    return (
        f" (fewer frames than asked: --calib-size {asked['calib_size']}, "
        f"--holdout {asked['holdout']})"
    )


def _budget(b: dict) -> str:
    terms = []
    if b.get("spread") is not None:
        terms.append(f"p99<={b['spread']}xstd")
    if b.get("identical_bins") is not None:
        terms.append(f"bins>={b['identical_bins']}")
    terms += [f"{k}<={v}" for k, v in (b.get("p99_error") or {}).items()]
    if b.get("range_fraction") is not None:
        terms.append(f"p99<={b['range_fraction']}xrange")
    return ",".join(terms)


def _task(t: dict) -> str:
    if "skipped" in t:
        return f"skipped ({t['skipped']})"
    return (
        f"{t['suite']} success {t['success_rate']:.0%} vs parent {t['parent_success_rate']:.0%} "
        f"({t['delta_points']:+.1f} points, {t['episodes_per_task']} episodes per task)"
    )
