"""`vla-edge sim ...`: simulation suites and scripted demonstrations."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from vla_edge.cli.common import JsonOpt, command, console, print_json

sim_app = typer.Typer(
    help="Simulation suites (Meta-World) and scripted demonstrations.", no_args_is_help=True
)


def register(app: typer.Typer) -> None:
    command(sim_app, "demos")(demos)
    command(sim_app, "suites")(suites)
    app.add_typer(sim_app, name="sim")


def demos(
    output: Annotated[Path, typer.Option("--output", "-o", help="Demonstration directory.")],
    suite: Annotated[str, typer.Option(help="Suite: mt10 | mt3-smoke.")] = "mt10",
    episodes: Annotated[int, typer.Option(help="Successful episodes per task.")] = 20,
    noise: Annotated[float, typer.Option(help="Std of the noise added to executed actions.")] = 0.1,
    image_size: Annotated[
        int | None, typer.Option(help="Frame size (default: the suite's).")
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Record scripted-expert demonstrations (successful episodes only; resumable)."""
    from vla_edge.sim.demos import DemoConfig, generate

    start = time.perf_counter()
    cfg = DemoConfig(suite=suite, episodes=episodes, noise=noise, image_size=image_size)
    stats = generate(cfg, output, progress=not json_out)
    seconds = time.perf_counter() - start
    if json_out:
        print_json({"output": str(output), "seconds": round(seconds, 1), "tasks": stats})
        return
    kept = sum(s["kept"] for s in stats.values())
    console.print(f"{kept} episodes over {len(stats)} tasks in {seconds:.0f} s -> {output}")
    for task, s in stats.items():
        if s["kept"] < episodes:
            console.print(f"  {task}: only {s['kept']} successful of {s['attempts']} attempts")


def suites(json_out: JsonOpt = False) -> None:
    """List the suites and their tasks."""
    from vla_edge.sim.suites import SUITES

    data = {
        name: {
            "camera": s.camera,
            "cameras": list(s.cameras),
            "image_size": s.image_size,
            "state": s.state,
            "state_dim": s.state_dim,
            "description": s.description,
            "tasks": {
                t.env_name: {"instruction": t.instruction, "max_steps": t.max_steps}
                for t in s.tasks
            },
        }
        for name, s in SUITES.items()
    }
    if json_out:
        print_json(data)
        return
    for name, s in data.items():
        console.print(
            f"[bold]{name}[/bold] ({' + '.join(s['cameras'])}, {s['image_size']} px; "
            f"{s['state_dim']}-D {s['state']} state): {s['description']}"
        )
        for task, t in s["tasks"].items():
            console.print(f'  {task:26s} {t["max_steps"]:4d} steps  "{t["instruction"]}"')
