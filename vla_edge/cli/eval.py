"""`vla-edge eval BUNDLE_OR_CKPT --suite mt10`: closed-loop task success in simulation."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from vla_edge.cli.common import BackendOpt, JsonOpt, command, console, print_json
from vla_edge.cli.options import (
    AllowFailedOpt,
    CudaGraphOpt,
    EngineDeviceOpt,
    ProvidersOpt,
    ZeroCopyOpt,
    runner_options,
    warn_failed,
)


def register(app: typer.Typer) -> None:
    command(app, "eval")(eval_cmd)


def eval_cmd(
    path: Annotated[Path, typer.Argument(help="Bundle directory or reference checkpoint.")],
    suite: Annotated[
        str, typer.Option(help="Suite: mt10 | mt3-smoke | mt10-vision | mt3-vision-smoke.")
    ] = "mt10",
    episodes: Annotated[int, typer.Option(help="Episodes per task.")] = 5,
    backend: BackendOpt = "onnxrt",
    tasks: Annotated[list[str], typer.Option("--task", help="Only these tasks (repeatable).")] = [],  # noqa: B006 - Typer needs a list default
    execute: Annotated[
        int | None,
        typer.Option(
            help="Actions executed per prediction (1 = replan every step; "
            "default: the whole chunk)."
        ),
    ] = None,
    seed: Annotated[int, typer.Option(help="Offset added to the evaluation seeds.")] = 0,
    threads: Annotated[int | None, typer.Option(help="Inference threads.")] = None,
    providers: ProvidersOpt = None,
    cuda_graph: CudaGraphOpt = False,
    zero_copy: ZeroCopyOpt = None,
    engine_device: EngineDeviceOpt = None,
    allow_failed: AllowFailedOpt = False,
    save_video: Annotated[
        Path | None, typer.Option(help="Write each task's first episode: .png strip or .gif.")
    ] = None,
    ablate: Annotated[
        list[str],
        typer.Option(
            help="Also run the same seeds ablated (repeatable): vision (black frames; another "
            "episode's frames), language (empty; another task's instruction), state (its mean)."
        ),
    ] = [],  # noqa: B006 - Typer needs a list default
    record: Annotated[
        bool, typer.Option(help="Record the result (and ablations) in the bundle's validation.")
    ] = True,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Also write JSON here.")
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Run the policy closed loop on the suite; success per task, lengths, latency."""
    import json

    from vla_edge.policy.policy import Policy
    from vla_edge.sim.evaluate import EvalConfig, evaluate, record_in_bundle

    cfg = EvalConfig(
        suite=suite,
        episodes=episodes,
        tasks=list(tasks),
        execute=execute,
        seed_offset=seed,
        save_video=save_video,
        ablate=list(ablate),
    )
    options = runner_options(threads, providers, cuda_graph, zero_copy, engine_device)
    with Policy.load(path, backend=backend, options=options, allow_failed=allow_failed) as policy:
        warn_failed(policy)
        report = evaluate(policy, cfg, progress=not json_out)
    if record and (path / "manifest.json").is_file():
        record_in_bundle(path, report)
    if output:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(json.dumps(report, indent=2) + "\n")
    if json_out:
        print_json(report)
        return
    print_report(report)


def print_report(report: dict) -> None:
    for task, t in report["tasks"].items():
        console.print(
            f"  {task:26s} {t['successes']:3d}/{t['episodes']:<3d} "
            f"{t['success_rate']:6.0%}   mean length {t['mean_length']:.0f}"
        )
    lat = report["latency_ms"]
    console.print(
        f"[bold]success {report['successes']}/{report['episodes']} = "
        f"{report['success_rate']:.0%}[/bold] on {report['suite']} ({report['backend']}); "
        f"inference p50 {lat['p50']:.1f} ms, p90 {lat['p90']:.1f} ms; "
        f"{report['steps_per_s']:.0f} env steps/s"
    )
    for line in ablation_lines(report):
        console.print(line)
    if report.get("video"):
        console.print(f"episode frames: {report['video']}")


def ablation_lines(report: dict) -> list[str]:
    """One line per ablation: its success beside the plain one, same seeds and episodes."""
    lines = []
    for name, a in (report.get("ablations") or {}).items():
        delta = (a["success_rate"] - report["success_rate"]) * 100
        lines.append(
            f"  ablation {name:22s} {a['successes']:3d}/{a['episodes']:<3d} "
            f"{a['success_rate']:6.0%}   ({delta:+.0f} points vs plain, same seeds)"
        )
    return lines
