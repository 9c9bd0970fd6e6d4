"""`vla-edge prune CKPT --data DATA -o OUT (--ratio R | --target-latency MS | --sparsity 2:4)`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from vla_edge.cli.common import ForceOpt, JsonOpt, command, console, print_json


def register(app: typer.Typer) -> None:
    command(app, "prune")(prune)


def prune(
    checkpoint: Annotated[
        Path, typer.Argument(help="Reference checkpoint (or bundle with source).")
    ],
    data: Annotated[Path, typer.Option(help="Demonstrations (dataset dir or .npz).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Checkpoint directory to write.")],
    ratio: Annotated[
        float | None, typer.Option(help="Fraction of heads and MLP channels removed per block.")
    ] = None,
    target_latency: Annotated[
        float | None,
        typer.Option(help="Prune until the per-frame graph runs in this many ms here (ORT)."),
    ] = None,
    method: Annotated[
        str, typer.Option(help="Importance: taylor | magnitude | random.")
    ] = "taylor",
    drop_vision_layers: Annotated[int, typer.Option(help="Vision blocks to remove.")] = 0,
    drop_fusion_layers: Annotated[int, typer.Option(help="Fusion blocks to remove.")] = 0,
    token_pool: Annotated[
        int, typer.Option(help="Average-pool s x s vision tokens inside the model.")
    ] = 1,
    sparsity: Annotated[
        str | None, typer.Option(help="'2:4': semi-structured sparse linear layers.")
    ] = None,
    recover_steps: Annotated[int, typer.Option(help="Recovery fine-tune steps.")] = 300,
    batch_size: Annotated[int, typer.Option(help="Batch size (importance and recovery).")] = 16,
    lr: Annotated[float, typer.Option(help="Recovery learning rate.")] = 2e-4,
    threads: Annotated[int, typer.Option(help="ONNX Runtime threads for latency.")] = 2,
    seed: Annotated[int, typer.Option(help="Seed (importance batches, recovery).")] = 0,
    resume: Annotated[bool, typer.Option("--resume", help="Continue the recovery in OUT.")] = False,
    export: Annotated[
        Path | None, typer.Option(help="Also export a bundle here (sparsity carried over).")
    ] = None,
    force: ForceOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """Structured pruning by measured importance (+ 2:4 sparsity), then recovery fine-tune."""
    from vla_edge.compress.distill import TrainConfig
    from vla_edge.compress.prune import PruneConfig, RecoverConfig, export_compressed
    from vla_edge.compress.prune import prune as run_prune

    _check_output(output, resume, force, [checkpoint, data], export)
    train = TrainConfig(steps=recover_steps, batch_size=batch_size, lr=lr, seed=seed, warmup=20)
    cfg = PruneConfig(
        ratio=ratio,
        target_latency_ms=target_latency,
        method=method,
        drop_vision_layers=drop_vision_layers,
        drop_fusion_layers=drop_fusion_layers,
        token_pool=token_pool,
        sparsity=sparsity,
        batch_size=batch_size,
        threads=threads,
        seed=seed,
        recover=RecoverConfig(train=train),
    )
    result = run_prune(checkpoint, data, output, cfg, resume=resume)
    if export is not None:
        bundle = export_compressed(output, export, force=force)
        result["bundle"] = str(bundle.path)
    if json_out:
        print_json(result)
        return
    _print(result)


def _check_output(output: Path, resume: bool, force: bool, inputs: list, export: Path | None):
    """Before any work: OUT (and --export) replace only vla-edge outputs, never an input."""
    from vla_edge.errors import OutputError
    from vla_edge.outputs import check_not_input, check_output, check_replaceable

    if resume:
        check_not_input(output, inputs)
        check_replaceable(output)
    elif output.exists() and not force and any(output.iterdir()):
        raise OutputError(f"{output} exists: pass --resume to continue it or --force to replace it")
    else:
        check_output(output, force, inputs)
    if export is not None:
        check_output(export, force, [*inputs, output], option="--export")


def _print(r: dict) -> None:
    p, lat = r["parameters"], r["latency_ms"]
    console.print(f"wrote {r['checkpoint']} ({r['method']} importance)")
    console.print(f"  parameters {p['parent']:,} -> {p['pruned']:,}")
    console.print(
        f"  per-frame graph latency (ORT, {lat['threads']} threads) "
        f"{lat['parent']:.2f} -> {lat['pruned']:.2f} ms"
    )
    if r["sparsity"]:
        console.print(f"  2:4 sparse: {len(r['sparsity']['layers'])} linear layers")
    before, after = r["held_out_before_recovery"], r["held_out_after_recovery"]
    console.print(
        f"  gap to parent on held-out frames: {before['output_loss']:.4g} -> "
        f"{after['output_loss']:.4g} after {r['recover_steps']} recovery steps"
    )
    if "bundle" in r:
        console.print(f"  bundle {r['bundle']}")
