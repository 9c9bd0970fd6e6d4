"""`vla-edge train`: behaviour cloning of a reference policy on a demonstration set."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from vla_edge.cli.common import JsonOpt, command, console, print_json
from vla_edge.errors import DataError


def register(app: typer.Typer) -> None:
    command(app, "train")(train)


def parse_overrides(items: list[str]) -> dict:
    """`key=value` pairs (values parsed as JSON when they can be: 128, 2.0, true)."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise DataError(f"--set takes KEY=VALUE (e.g. hidden_size=128), got {item!r}")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def train(
    data: Annotated[Path, typer.Option("--data", help="Demonstration set (`vla-edge sim demos`).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Checkpoint directory.")],
    preset: Annotated[
        str, typer.Option(help="Preset: tiny | small | base | edge (ar heads: tiny | small).")
    ] = "small",
    head: Annotated[
        str, typer.Option(help="Action head: bins | continuous | flow | ar | ar-parallel.")
    ] = "bins",
    steps: Annotated[int, typer.Option(help="Optimizer steps.")] = 3000,
    batch: Annotated[int, typer.Option(help="Minibatch size.")] = 64,
    lr: Annotated[float, typer.Option(help="Peak learning rate (warmup, then cosine).")] = 3e-4,
    chunk: Annotated[int, typer.Option(help="Actions predicted per step (chunk length).")] = 4,
    seed: Annotated[int, typer.Option(help="Seed: same seed, same data -> same model.")] = 0,
    threads: Annotated[int, typer.Option(help="torch CPU threads.")] = 2,
    save_every: Annotated[int, typer.Option(help="Checkpoint every N steps.")] = 500,
    overrides: Annotated[
        list[str], typer.Option("--set", help="Model config override KEY=VALUE (repeatable).")
    ] = [],  # noqa: B006 - Typer needs a list default
    resume: Annotated[bool, typer.Option(help="Continue from the checkpoint in -o.")] = False,
    feature_cache: Annotated[
        Path | None,
        typer.Option(
            help="Where a frozen pretrained encoder's features are cached (default: -o/features); "
            "share it between runs on the same data."
        ),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Train a reference VLA by behaviour cloning (action chunks, normalization from the data)."""
    from vla_edge.train.bc import TrainConfig
    from vla_edge.train.bc import train as run

    cfg = TrainConfig(
        preset=preset,
        head=head,
        steps=steps,
        batch=batch,
        lr=lr,
        chunk=chunk,
        seed=seed,
        threads=threads,
        save_every=save_every,
        feature_cache=str(feature_cache) if feature_cache else None,
        overrides=parse_overrides(overrides),
    )
    summary = run(data, output, cfg, resume=resume, progress=not json_out)
    if json_out:
        print_json({"checkpoint": str(output), **summary})
        return
    console.print(
        f"trained {summary['parameters'] / 1e6:.2f}M parameters for {summary['steps']} steps in "
        f"{summary['seconds']:.0f} s on {summary['samples']} samples "
        f"({summary['episodes']} episodes); final loss {summary['final_loss']:.4f}\n"
        f"checkpoint: {output}"
    )
