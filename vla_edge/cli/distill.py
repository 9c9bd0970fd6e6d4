"""`vla-edge distill TEACHER --student-preset tiny|small|edge|custom --data DATA -o CKPT`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from vla_edge.cli.common import ForceOpt, JsonOpt, command, console, print_json


def register(app: typer.Typer) -> None:
    command(app, "distill")(distill)


def distill(
    teacher: Annotated[Path, typer.Argument(help="Teacher checkpoint (or bundle with source).")],
    data: Annotated[Path, typer.Option(help="Demonstrations (dataset dir or .npz).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Student checkpoint to write.")],
    student_preset: Annotated[
        str,
        typer.Option(
            help="tiny | small | base | edge (MLP fusion, fastest) | custom; parallel for an "
            "autoregressive (decoder LLM) teacher"
        ),
    ] = "tiny",
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="Student size override key=value (e.g. hidden_size=96)."),
    ] = None,
    steps: Annotated[int, typer.Option(help="Training steps.")] = 2000,
    batch_size: Annotated[int, typer.Option(help="Batch size per process.")] = 32,
    lr: Annotated[float, typer.Option(help="Peak learning rate.")] = 5e-4,
    temperature: Annotated[float, typer.Option(help="Softmax temperature (bins heads).")] = 2.0,
    feature_weight: Annotated[float, typer.Option(help="Readout feature matching weight.")] = 0.0,
    bc_weight: Annotated[float, typer.Option(help="Weight of the demonstration actions.")] = 0.0,
    flow_steps: Annotated[
        int | None, typer.Option(help="Euler steps of a flow student (default: teacher's).")
    ] = None,
    rollouts: Annotated[
        int,
        typer.Option(
            help="Closed-loop episodes in the simulator (per round), labelled by the teacher."
        ),
    ] = 0,
    suite: Annotated[str | None, typer.Option(help="Suite for --rollouts.")] = None,
    rollout_policy: Annotated[
        str,
        typer.Option(
            help="Who acts in the --rollouts episodes: teacher (before training) or student "
            "(DAgger: the student's own states, labelled by the teacher, during training)."
        ),
    ] = "teacher",
    rollout_rounds: Annotated[
        int, typer.Option(help="Student rollout rounds, evenly spaced over the training.")
    ] = 1,
    seed: Annotated[int, typer.Option(help="Seed (init, data order).")] = 0,
    feature_cache: Annotated[
        Path | None,
        typer.Option(
            help="Frozen-trunk feature cache of an autoregressive teacher with a pretrained "
            "camera encoder (the one `train --feature-cache` wrote; default OUT/features)."
        ),
    ] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue the run in OUT.")] = False,
    export: Annotated[Path | None, typer.Option(help="Also export a bundle here.")] = None,
    force: ForceOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """Train a smaller student on the teacher's outputs (soft bins / regression / few-step flow)."""
    from vla_edge.cli.prune import _check_output
    from vla_edge.compress.distill import DistillConfig, TrainConfig
    from vla_edge.compress.distill import distill as run_distill
    from vla_edge.compress.distill.student import parse_overrides
    from vla_edge.compress.prune import export_compressed

    _check_output(output, resume, force, [teacher, data], export)
    from vla_edge.backends.torch.loader import model_type

    if model_type(Path(teacher)) == "vla_edge_autoregressive":  # decoder LLM -> parallel (OFT)
        from vla_edge.cli import distill_parallel

        return distill_parallel.run(
            teacher,
            data,
            output,
            student_preset,
            steps,
            batch_size,
            lr,
            temperature,
            bc_weight,
            seed,
            export,
            force,
            json_out,
            feature_cache,
        )
    overrides = parse_overrides(set_)
    if flow_steps is not None:
        overrides["flow_steps"] = flow_steps
    cfg = DistillConfig(
        student_preset=student_preset,
        overrides=overrides,
        temperature=temperature,
        feature_weight=feature_weight,
        bc_weight=bc_weight,
        rollouts=rollouts,
        rollout_suite=suite,
        rollout_policy=rollout_policy,
        rollout_rounds=rollout_rounds,
        train=TrainConfig(steps=steps, batch_size=batch_size, lr=lr, seed=seed),
    )
    result = run_distill(teacher, data, output, cfg, resume=resume)
    if export is not None:
        result["bundle"] = str(export_compressed(output, export, force=force).path)
    if json_out:
        print_json(result)
        return
    before, after = result["held_out_before"], result["held_out_after"]
    console.print(f"wrote {result['checkpoint']} after {result['steps']} steps")
    console.print(
        f"  parameters per frame {result['teacher_per_frame_parameters']:,} (teacher) -> "
        f"{result['student_per_frame_parameters']:,} (student)"
    )
    console.print(
        f"  held-out gap to the teacher: {before['output_loss']:.4g} -> {after['output_loss']:.4g}"
    )
    if "bundle" in result:
        console.print(f"  bundle {result['bundle']}")
