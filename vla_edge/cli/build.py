"""`vla-edge check` (will it build and run with TensorRT on that device?) and `vla-edge build`
(TensorRT engines into the bundle's engines/, on the target)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from vla_edge.cli.common import BundleArg, JsonOpt, command, console, print_json

DeviceOpt = Annotated[
    str,
    typer.Option(
        "--device",
        "-d",
        help="Target: orin-agx, orin-agx-32gb, "
        "orin-nx, orin-nx-8gb, orin-nano, orin-nano-4gb, h100, cuda.",
    ),
]
DlaOpt = Annotated[int | None, typer.Option("--dla", help="Run on this DLA core (GPU fallback).")]
DimOpt = Annotated[
    list[str] | None,
    typer.Option("--dim", help="Value of a symbolic non-batch axis, NAME=N (repeatable)."),
]


def register(app: typer.Typer) -> None:
    command(app, "check")(check)
    command(app, "build")(build)


def _dims(values: list[str] | None) -> dict[str, int]:
    from vla_edge.errors import InputError

    out = {}
    for item in values or []:
        name, _, value = item.partition("=")
        if not value.isdigit():
            raise InputError(f"--dim takes NAME=N (e.g. --dim seq=32), got {item!r}")
        out[name] = int(value)
    return out


def check(
    bundle: BundleArg,
    device: DeviceOpt = "orin-agx",
    precision: Annotated[
        str | None,
        typer.Option(
            help="Precision `build` will be asked for: fp32|fp16|int8|best (fp8/fp4 are refused on "
            "sm_87). Default: the bundle's."
        ),
    ] = None,
    dla: DlaOpt = None,
    batch: Annotated[int, typer.Option(help="Max batch for the memory estimate.")] = 1,
    dim: DimOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Check a bundle (or one .onnx) against TensorRT 10.3 and a device, without TensorRT."""
    from vla_edge.targets import CheckOptions
    from vla_edge.targets import check as run_check

    opts = CheckOptions(device=device, precision=precision, dla=dla, batch=batch, dims=_dims(dim))
    report = run_check(bundle, opts)
    if json_out:
        print_json(report.to_dict())
    else:
        d = report.device
        console.print(
            f"[bold]check[/bold] {bundle} for {d.title} ({d.sm or d.kind}, TensorRT "
            f"{d.tensorrt}), precision {report.precision}: {', '.join(report.graphs)}"
        )
        for problem in report.summarized():
            console.print(problem.line(), markup=False, highlight=False)
        verdict = "OK" if report.ok else "FAIL"
        console.print(
            f"{verdict}: {report.count('error')} error(s), {report.count('warning')} warning(s)"
        )
    if not report.ok:
        raise typer.Exit(1)


def build(
    bundle: BundleArg,
    device: DeviceOpt = "orin-agx",
    precision: Annotated[
        str, typer.Option(help="fp32 | fp16 | int8 (Q/DQ bundles) | best.")
    ] = "fp16",
    sparsity: Annotated[
        bool | None,
        typer.Option(
            "--sparsity/--no-sparsity",
            help="Use 2:4 sparse weights (default: on when the bundle is marked 2:4 by prune).",
        ),
    ] = None,
    dla: DlaOpt = None,
    workspace: Annotated[int | None, typer.Option(help="Builder workspace limit in MB.")] = None,
    timing_cache: Annotated[
        Path | None, typer.Option(help="Read/update this timing cache.")
    ] = None,
    max_batch: Annotated[int, typer.Option(help="Largest batch of the optimization profile.")] = 1,
    plugins: Annotated[
        Path | None, typer.Option(help="vla-edge plugin library (default: $VLA_EDGE_PLUGIN_LIB).")
    ] = None,
    dim: DimOpt = None,
    validate: Annotated[
        bool,
        typer.Option(
            "--validate/--no-validate",
            help="End with `vla-edge validate --backend trt` on the built engines (default on).",
        ),
    ] = True,
    data: Annotated[
        Path | None,
        typer.Option(help="Held-out demonstrations to validate on (default: the export's)."),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Build TensorRT engines for the device into the bundle (run this on the target), then
    validate them against the FP32 parent; exit 1 when they miss the budget."""
    from vla_edge.backends.trt.config import BuildOptions
    from vla_edge.backends.trt.loader import build_bundle

    if sparsity is None:
        sparsity = _marked_sparse(bundle)
    opts = BuildOptions(
        device=device,
        precision=precision,
        sparsity=sparsity,
        dla=dla,
        workspace_mb=workspace,
        timing_cache=timing_cache,
        max_batch=max_batch,
        plugin_library=plugins,
        dims=_dims(dim),
    )
    built = build_bundle(bundle, opts)
    if not json_out:
        _print_built(built)
    result = _validate_built(bundle, built, data, plugins, json_out) if validate else None
    if json_out:
        engines = [
            {"role": b.role, "engine": b.engine, "seconds": b.seconds, **b.sidecar.to_dict()}
            for b in built
        ]
        print_json({"engines": engines, "validation": result} if validate else engines)
    if result is not None and not result["passed"]:
        from vla_edge.errors import EngineBuildError

        raise EngineBuildError(
            f"the engines were built but FAILED validation against the FP32 parent "
            f"({'; '.join(result['reasons'])}): they stay in the bundle, recorded as failed, and "
            "run/predict/eval refuse them without --allow-failed. Rebuild with another "
            "--precision (e.g. fp16) or quantize within budget"
        )


def _validate_built(bundle: Path, built: list, data: Path | None, plugins, json_out: bool):
    """`validate --backend trt` on the engines just built (those of the built device)."""
    from vla_edge.backends.factory import RunnerOptions
    from vla_edge.cli.validate import print_result
    from vla_edge.validate import ValidateConfig
    from vla_edge.validate import validate as run_validate

    device = built[0].sidecar.device if built else None
    config = ValidateConfig(
        backend="trt", options=RunnerOptions(device=device, plugin_lib=plugins), data=data
    )
    say = (lambda _m: None) if json_out else (lambda m: console.print(m, markup=False))
    result = run_validate(bundle, config, say=say)
    if not json_out:
        print_result(result)
    return result


def _print_built(built: list) -> None:
    for b in built:
        layers = b.sidecar.layers
        console.print(
            f"built {b.engine} ({b.role}) in {b.seconds:.1f} s: "
            f"{layers.get('by_precision')} layers by precision"
        )
        for warning in layers.get("warnings", []):
            console.print(f"  warning: {warning}", markup=False)


def _marked_sparse(bundle: Path) -> bool:
    """True when the bundle's manifest says its weights are 2:4 sparse (`vla-edge prune`);
    anything unreadable is left for build_bundle to report."""
    import json

    try:
        manifest = json.loads((Path(bundle) / "manifest.json").read_text())
    except (OSError, ValueError):
        return False
    return (manifest.get("sparsity") or {}).get("pattern") == "2:4"
