"""`vla-edge model create`: a randomly initialized reference model, to try the pipeline."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from vla_edge.cli.common import ForceOpt, JsonOpt, command, console, print_json

model_app = typer.Typer(
    help="Create and inspect reference-family checkpoints.", no_args_is_help=True
)


def register(app: typer.Typer) -> None:
    app.add_typer(model_app, name="model")


@command(model_app, "create")
def create(
    output: Annotated[Path, typer.Option("--output", "-o", help="Checkpoint directory to write.")],
    preset: Annotated[str, typer.Option(help="tiny | small | base | edge")] = "tiny",
    head: Annotated[
        str, typer.Option(help="bins | continuous | flow | ar (decoder LLM) | ar-parallel")
    ] = "bins",
    image_size: Annotated[int, typer.Option(help="Camera height = width (0: preset default).")] = 0,
    cameras: Annotated[str, typer.Option(help="Comma-separated camera names.")] = "front",
    chunk: Annotated[int, typer.Option(help="Action chunk length.")] = 4,
    state_dim: Annotated[int, typer.Option(help="Proprio state size (0: none).")] = 8,
    text_encoder: Annotated[
        str, typer.Option(help="own | minilm (all-MiniLM-L6-v2 weights).")
    ] = "own",
    seed: Annotated[int, typer.Option(help="Random seed of the initialization.")] = 0,
    decoder: Annotated[str, typer.Option(help="ar heads: llama | qwen2 decoder.")] = "llama",
    decoder_weights: Annotated[
        Path | None, typer.Option(help="ar heads: a local transformers Llama/Qwen2 model.")
    ] = None,
    force: ForceOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """Create a randomly initialized reference model (to try export, quantize, benchmark)."""
    from vla_edge.policy.autoregressive import AR_HEADS
    from vla_edge.policy.checkpoints import create_checkpoint

    if head in AR_HEADS:
        from vla_edge.policy.autoregressive.presets import create_ar_checkpoint
        from vla_edge.policy.reference import default_spec

        spec = default_spec(preset, "bins", image_size or None, chunk, tuple(cameras.split(",")),
                            state_dim)  # fmt: skip
        info = create_ar_checkpoint(output, preset, head, spec, decoder, decoder_weights, seed,
                                    force)  # fmt: skip
        return _report(info, preset, head, output, json_out)
    info = create_checkpoint(
        output,
        preset,
        head,
        image_size or None,
        tuple(cameras.split(",")),
        chunk,
        state_dim,
        text_encoder,
        seed,
        force,
    )
    _report(info, preset, head, output, json_out)


def _report(info: dict, preset: str, head: str, output: Path, json_out: bool) -> None:
    if json_out:
        print_json(info)
        return
    console.print(
        f"created {preset}/{head} model ({info['parameters'] / 1e6:.2f}M parameters) at {output}"
    )
