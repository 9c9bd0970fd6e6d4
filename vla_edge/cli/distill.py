"""`vla-edge distill TEACHER --student-preset tiny|small|edge|custom --data DATA -o CKPT`.

TEACHER is a reference checkpoint (or a bundle with its source), an autoregressive one (into
a parallel student), or a foreign teacher: a LeRobot bundle, any bundle without a reference
source, or `lerobot:PATH` (exported first): its actions on DATA become the targets
(vla_edge.compress.distill.foreign)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from vla_edge.cli.common import ForceOpt, JsonOpt, command, console, print_json


def register(app: typer.Typer) -> None:
    command(app, "distill")(distill)


def distill(
    teacher: Annotated[
        Path,
        typer.Argument(
            help="Teacher checkpoint (or bundle with source); or a foreign teacher: a LeRobot "
            "bundle, a bundle without source, lerobot:PATH (a LeRobot pretrained_model)."
        ),
    ],
    data: Annotated[
        Path,
        typer.Option(
            help="Demonstrations (dataset dir or .npz), or a LeRobotDataset v3 folder "
            "(lerobot:PATH)."
        ),
    ],
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
    student_head: Annotated[
        str, typer.Option(help="Foreign teacher: the student's head (continuous | flow | bins).")
    ] = "continuous",
    max_frames: Annotated[
        int | None, typer.Option(help="Foreign teacher: frames of DATA it labels (default all).")
    ] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue the run in OUT.")] = False,
    export: Annotated[Path | None, typer.Option(help="Also export a bundle here.")] = None,
    force: ForceOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """Train a smaller student on the teacher's outputs (soft bins / regression / few-step flow)."""
    from vla_edge.cli.prune import _check_output
    from vla_edge.compress.distill import DistillConfig, TrainConfig, foreign
    from vla_edge.compress.distill import distill as run_distill
    from vla_edge.compress.distill.student import parse_overrides
    from vla_edge.data.lerobot_dataset import split_source

    plain = [split_source(p)[0] for p in (teacher, data)]  # lerobot:PATH -> PATH
    _check_output(output, resume, force, plain, export)
    if foreign.is_foreign(teacher):
        cfg = DistillConfig(
            student_preset=student_preset,
            overrides=parse_overrides(set_),
            student_head=student_head,
            frames=max_frames,
            train=TrainConfig(steps=steps, batch_size=batch_size, lr=lr, seed=seed),
        )
        _refuse_for_foreign(resume, rollouts, feature_weight, bc_weight)
        result = foreign.run(teacher, data, output, cfg)
        return _report(result, export, output, force, json_out, foreign=True)
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
    _report(result, export, output, force, json_out)


def _refuse_for_foreign(resume: bool, rollouts: int, feature_weight: float, bc_weight: float):
    from vla_edge.errors import InputError

    given = [
        name
        for name, on in (
            ("--resume", resume),
            ("--rollouts", rollouts),
            ("--feature-weight", feature_weight),
            ("--bc-weight", bc_weight),
        )
        if on
    ]
    if given:
        raise InputError(
            f"{', '.join(given)}: not available with a foreign teacher (its actions are the "
            "only targets: it exposes no features, and the demonstrations' own actions are "
            "not used); leave them out"
        )


def _report(result: dict, export, output, force: bool, json_out: bool, foreign: bool = False):
    from vla_edge.compress.prune import export_compressed

    if export is not None:
        result["bundle"] = str(export_compressed(output, export, force=force).path)
    if json_out:
        print_json(result)
        return
    before, after = result["held_out_before"], result["held_out_after"]
    if foreign:
        console.print(f"wrote {result['checkpoint']} after {result['steps']} steps")
        console.print(
            f"  teacher {result['teacher']['family']} labelled {result['train_frames']} "
            f"training frames of {result['data']}"
        )
        console.print(
            f"  held-out action error vs the teacher (mean abs, units): "
            f"{before['action_mae_mean']:.4g} -> {after['action_mae_mean']:.4g}"
        )
        if "bundle" in result:
            console.print(f"  bundle {result['bundle']}")
        return
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
