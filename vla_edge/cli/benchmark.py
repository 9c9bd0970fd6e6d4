"""`vla-edge benchmark BUNDLE... --device ...`: measured where possible, a labelled estimate
elsewhere, side by side."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from vla_edge.cli.common import JsonOpt, command, console, print_json
from vla_edge.cli.options import CudaGraphOpt, ZeroCopyOpt


def register(app: typer.Typer) -> None:
    command(app, "benchmark")(benchmark)


def _split(values: list[str] | None) -> list[str]:
    return [p.strip().lower() for v in values or [] for p in v.split(",") if p.strip()]


def benchmark(
    bundles: Annotated[list[Path], typer.Argument(help="Bundle(s); their lineage parents join.")],
    device: Annotated[
        str | None,
        typer.Option(
            help="orin (AGX + NX + Nano) | orin-agx | orin-nx | orin-nano | host | cuda. "
            "Default: this Jetson when run on one, else host."
        ),
    ] = None,
    backend: Annotated[
        list[str] | None, typer.Option(help="onnxrt | torch | trt (repeat or comma-separate).")
    ] = None,
    precision: Annotated[
        list[str] | None, typer.Option(help="fp32 | fp16 | int8 (repeat or comma-separate).")
    ] = None,
    batch: Annotated[int, typer.Option(help="Batch size per call.")] = 1,
    iterations: Annotated[int, typer.Option(help="Timed calls per variant.")] = 100,
    warmup: Annotated[int, typer.Option(help="Untimed calls per variant first.")] = 10,
    rounds: Annotated[int, typer.Option(help="Alternating rounds the calls are split in.")] = 5,
    threads: Annotated[int | None, typer.Option(help="CPU threads per variant.")] = None,
    cuda_graph: CudaGraphOpt = False,
    zero_copy: ZeroCopyOpt = None,
    report: Annotated[
        Path | None, typer.Option("--report", help="Write report.md, report.json, PNGs here.")
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Latency, throughput, memory, power and action error per variant; roofline estimates
    (labelled ESTIMATE) for devices not at hand; memory fit per device."""
    from vla_edge.bench import jetson
    from vla_edge.bench import report as report_mod
    from vla_edge.bench.api import BenchmarkOptions
    from vla_edge.bench.api import benchmark as run
    from vla_edge.bench.harness import MeasureConfig

    if report is not None:  # before minutes of measuring, not after
        report_mod.check_dir(report, inputs=tuple(bundles))
    device = device or ("orin" if jetson.is_jetson() else "host")
    options = BenchmarkOptions(
        device=device,
        backends=_split(backend),
        precisions=_split(precision) or None,
        measure=MeasureConfig(
            iterations, warmup, rounds, batch, threads, cuda_graph=cuda_graph, zero_copy=zero_copy
        ),
    )
    with console.status(f"benchmarking on {device} ..."):
        result = run(list(bundles), options)
    written = report_mod.write(result, report, inputs=tuple(bundles)) if report else []
    if json_out:
        print_json(result)
        return
    _print(result, report_mod)
    for path in written:
        console.print(f"wrote {path}")


def _print(result: dict, report_mod) -> None:
    from rich.console import Console
    from rich.table import Table

    out = console if console.is_terminal else Console(width=max(console.width, 200))
    for warning in result.get("warnings", []):
        console.print(f"[yellow]warning:[/yellow] {warning}")
    for title, heads, rows in report_mod.tables(result):
        table = Table(title=title, title_justify="left", show_lines=False)
        for h in heads:
            table.add_column(h, overflow="fold")
        for row in rows:
            table.add_row(*row)
        out.print(table)
    for line in report_mod.notes(result):
        out.print(line, markup=False, highlight=False)
