"""`vla-edge validate BUNDLE --backend onnxrt|trt|torch [--data DEMOS]`: the graph or engine that
will run, against the FP32 parent, judged by the quantization budget, recorded in the bundle."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from vla_edge.cli.common import BackendOpt, BundleArg, JsonOpt, command, console, print_json
from vla_edge.cli.options import (
    CudaGraphOpt,
    EngineDeviceOpt,
    ProvidersOpt,
    ZeroCopyOpt,
    runner_options,
)


def register(app: typer.Typer) -> None:
    command(app, "validate")(validate)


def validate(
    bundle: BundleArg,
    backend: BackendOpt = "onnxrt",
    data: Annotated[
        Path | None,
        typer.Option(
            help="Demonstrations, a LeRobotDataset v3 folder (lerobot:PATH), an image folder "
            "or a .npz, held out from calibration (default: the observations recorded at "
            "export)."
        ),
    ] = None,
    samples: Annotated[int, typer.Option(help="Observations drawn from --data.")] = 64,
    parent: Annotated[
        Path | None,
        typer.Option(help="The FP32 bundle to compare with (default: found through the lineage)."),
    ] = None,
    budget: Annotated[
        str | None,
        typer.Option(help="Budget as for quantize (default: the one it was quantized under)."),
    ] = None,
    threads: Annotated[int | None, typer.Option(help="Inference threads (backend).")] = None,
    providers: ProvidersOpt = None,
    cuda_graph: CudaGraphOpt = False,
    zero_copy: ZeroCopyOpt = None,
    engine_device: EngineDeviceOpt = None,
    record: Annotated[
        bool, typer.Option("--record/--no-record", help="Write the result into the manifest.")
    ] = True,
    json_out: JsonOpt = False,
) -> None:
    """Compare the bundle on a backend (its TensorRT engines with --backend trt) with its FP32
    parent on held-out frames; exit 1 when it misses the budget."""
    from vla_edge.validate import ValidateConfig
    from vla_edge.validate import validate as run_validate

    config = ValidateConfig(
        backend=backend,
        options=runner_options(threads, providers, cuda_graph, zero_copy, engine_device),
        data=data,
        samples=samples,
        parent=parent,
        budget=budget,
        record=record,
    )
    say = (lambda _m: None) if json_out else (lambda m: console.print(m, markup=False))
    result = run_validate(bundle, config, say=say)
    if json_out:
        print_json(result)
    else:
        print_result(result, record)
    if not result["passed"]:
        raise typer.Exit(1)


def print_result(result: dict, recorded: bool = True) -> None:
    errs = ", ".join(
        f"{k} p99 {v['p99']:.3g} {v['unit']}" for k, v in result["action_error"].items()
    )
    bins = result["identical_bins"]
    line = f"  vs {result['reference']['kind']}: {errs}"
    console.print(line + (f", identical bins {bins:.1%}" if bins is not None else ""), markup=False)
    verdict = "PASSED" if result["passed"] else "FAILED: " + "; ".join(result["reasons"])
    where = f"recorded for {', '.join(result['keys'])}" if recorded else "not recorded"
    console.print(
        f"{verdict} on {result['samples']} observations ({where})", markup=False, highlight=False
    )
