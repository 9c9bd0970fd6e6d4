"""`vla-edge export CKPT -o BUNDLE`: verified ONNX bundle from a reference checkpoint, or from a
LeRobot policy (`lerobot:PATH`, or a folder recognised as a LeRobot pretrained_model)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from vla_edge.cli.common import (
    ForceOpt,
    JsonOpt,
    command,
    console,
    fraction,
    open_fraction,
    print_json,
)


def register(app: typer.Typer) -> None:
    command(app, "export")(export)


def export(
    checkpoint: Annotated[
        Path,
        typer.Argument(
            help="Reference checkpoint directory, or lerobot:PATH (a LeRobot pretrained_model)."
        ),
    ],
    output: Annotated[Path, typer.Option("--output", "-o", help="Bundle directory to write.")],
    opset: Annotated[
        int | None, typer.Option(help="ONNX opset (default 17 legacy, 18 dynamo; TensorRT 10.3).")
    ] = None,
    monolithic: Annotated[
        bool,
        typer.Option(
            "--monolithic", help="One graph instead of instruction encoder + per-frame policy."
        ),
    ] = False,
    split_graphs: Annotated[
        bool,
        typer.Option(
            "--split-graphs",
            help="LeRobot SmolVLA / pi0 / pi0.5: per-camera vision, prefix (KV cache), "
            "denoise-step and action-decoder graphs instead of one.",
        ),
    ] = False,
    exporter: Annotated[
        str | None, typer.Option(help="legacy (fast) | dynamo; default: legacy, or the adapter's")
    ] = None,
    no_source: Annotated[
        bool,
        typer.Option("--no-source", help="Do not copy the PyTorch checkpoint into the bundle."),
    ] = False,
    atol: Annotated[
        float | None,
        typer.Option(
            callback=open_fraction,
            help="Parity tolerance on actions, as a fraction of each dimension's range "
            "(default 1e-3, or the adapter's).",
        ),
    ] = None,
    min_bins: Annotated[
        float,
        typer.Option(
            callback=fraction,
            help="Parity: least fraction of identical action bins (bins heads).",
        ),
    ] = 0.99,
    data: Annotated[
        Path | None,
        typer.Option(
            help="Real frames for the parity check and the validation samples kept in the "
            "bundle: a demonstration set, an image folder or a .npz (as --calib reads them)."
        ),
    ] = None,
    parity_samples: Annotated[
        int, typer.Option(help="Observations the parity check runs on (at least 32).")
    ] = 32,
    action_kind: Annotated[
        str | None,
        typer.Option(
            help="What the actions mean, recorded in the bundle: delta (0 = no motion) | "
            "absolute (positions), or one per dimension, comma-separated. Default: the model's."
        ),
    ] = None,
    force: ForceOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """Export to ONNX (uint8 frames in, clamped physical actions out) and verify parity."""
    from vla_edge.cli.inputs import parse_kinds
    from vla_edge.export import ExportConfig, ParityConfig, export_checkpoint
    from vla_edge.outputs import check_output
    from vla_edge.policy.adapters.lerobot.checkpoint import is_lerobot

    check_output(output, force, inputs=[checkpoint, data])  # before loading anything
    parity = dict(min_identical_bins=min_bins, samples=parity_samples, data=data)
    if is_lerobot(checkpoint):
        from vla_edge.policy.adapters.lerobot.export import lerobot_config

        cfg, source = lerobot_config(
            checkpoint, opset, exporter, atol, not no_source, force, parity
        )
        with console.status(f"exporting LeRobot policy {source} ..."):
            from vla_edge.policy.adapters.lerobot.export import export_lerobot
            from vla_edge.policy.adapters.lerobot.split_export import export_lerobot_split

            cfg.action_kind = parse_kinds(action_kind)
            bundle = (export_lerobot_split if split_graphs else export_lerobot)(source, output, cfg)
    elif split_graphs:
        from vla_edge.errors import InputError

        raise InputError(
            f"--split-graphs applies to LeRobot SmolVLA / pi0 / pi0.5 checkpoints; {checkpoint} "
            "is not one (a reference checkpoint exports split by default, --monolithic for one)"
        )
    else:
        cfg = ExportConfig(
            opset=opset,
            monolithic=monolithic,
            exporter=exporter or "legacy",
            include_source=not no_source,
            force=force,
            parity=ParityConfig(action_atol_fraction=atol or 1e-3, **parity),
            action_kind=parse_kinds(action_kind),
        )
        with console.status(f"exporting {checkpoint} ..."):
            bundle = export_checkpoint(checkpoint, output, cfg)
    val = bundle.manifest["validation"]
    if json_out:
        print_json({"bundle": str(bundle.path), "graphs": bundle.graphs, "validation": val})
        return
    from vla_edge.cli.info import parity_lines

    console.print(
        f"wrote bundle {bundle.path} ({bundle.layout}, opset {cfg.opset}) in "
        f"{val['export_seconds']:.1f} s"
    )
    for line in parity_lines(val["parity"]):
        console.print("  " + line)
    if "lerobot_pipeline" in val:
        console.print("  against LeRobot's own preprocessor -> policy -> postprocessor:")
        for line in parity_lines(val["lerobot_pipeline"]):
            console.print("    " + line)
