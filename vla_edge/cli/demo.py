"""`vla-edge demo`: shipped policy -> ONNX bundle -> closed-loop run in simulation, on the CPU."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from vla_edge.cli.common import JsonOpt, command, console, print_json
from vla_edge.sim.quickstart import DEFAULT_POLICY


def register(app: typer.Typer) -> None:
    command(app, "demo")(demo)


def demo(
    policy: Annotated[str, typer.Option(help="Shipped policy name.")] = DEFAULT_POLICY,
    output: Annotated[Path, typer.Option("--output", "-o", help="Where to write.")] = Path(
        "exports/demo"
    ),
    suite: Annotated[
        str | None, typer.Option(help="Suite to run (default: the one the policy was trained on).")
    ] = None,
    episodes: Annotated[int, typer.Option(help="Episodes per task.")] = 1,
    tasks: Annotated[list[str], typer.Option("--task", help="Only these tasks (repeatable).")] = [],  # noqa: B006 - Typer needs a list default
    json_out: JsonOpt = False,
) -> None:
    """Export the shipped policy, run it closed loop on Meta-World with ONNX Runtime, summarize."""
    from vla_edge.sim.quickstart import policy_suite, run_demo

    suite = suite or policy_suite(policy)
    if not json_out:
        console.print(
            f"exporting shipped policy {policy!r} and running {suite} "
            f"({episodes} episode(s) per task) on the CPU with ONNX Runtime ..."
        )
    result = run_demo(policy, output, suite, episodes, list(tasks), progress=not json_out)
    if json_out:
        print_json(result)
        return
    rep, lat = result["eval"], result["eval"]["latency_ms"]
    per_task = "  ".join(
        f"{t.removesuffix('-v3')} {v['successes']}/{v['episodes']}" for t, v in rep["tasks"].items()
    )
    console.print(per_task)
    console.print(
        f"[bold]success {rep['successes']}/{rep['episodes']} ({rep['success_rate']:.0%})[/bold]"
        f"  inference p50 {lat['p50']:.1f} ms / p90 {lat['p90']:.1f} ms per prediction"
        f" (chunk {rep['chunk']})  {rep['steps_per_s']:.0f} sim steps/s"
    )
    rec = result["recorded"]
    if rec:
        console.print(
            f"recorded: {rec['success_rate']:.0%} over {rec['episodes']} episodes "
            f"({rec['episodes_per_task']} per task) on {rec['suite']}"
        )
    console.print(
        f"bundle: {result['bundle']} ({result['bundle_mb']:.1f} MB, exported and "
        f"parity-checked in {result['export_s']:.0f} s)\nepisode strip: "
        f"{result['strip']}"
    )
