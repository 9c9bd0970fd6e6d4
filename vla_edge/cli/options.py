"""How the runners of a command run (vla_edge.backends.RunnerOptions), as shared options of
`run`, `predict`, `eval`, `validate` and (the TensorRT ones) `benchmark`."""

from __future__ import annotations

from typing import Annotated

import typer

ProvidersOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--providers",
        help="ONNX Runtime execution providers, in order: cpu | cuda | tensorrt "
        "(repeat or comma-separate; default cpu).",
    ),
]
CudaGraphOpt = Annotated[
    bool,
    typer.Option(
        "--cuda-graph/--no-cuda-graph",
        help="TensorRT: capture each inference into a CUDA graph (fewer kernel launches).",
    ),
]
ZeroCopyOpt = Annotated[
    bool | None,
    typer.Option(
        "--zero-copy/--no-zero-copy",
        help="TensorRT: mapped host memory the GPU reads directly, no copies (default: on a "
        "Jetson, whose CPU and GPU share memory).",
    ),
]
EngineDeviceOpt = Annotated[
    str | None,
    typer.Option(
        "--engine-device",
        help="TensorRT: run the engines built for this device (default: the one detected).",
    ),
]


def runner_options(
    threads: int | None = None,
    providers: list[str] | None = None,
    cuda_graph: bool = False,
    zero_copy: bool | None = None,
    engine_device: str | None = None,
):
    from vla_edge.backends.factory import RunnerOptions

    names = [p.strip().lower() for v in providers or [] for p in v.split(",") if p.strip()]
    return RunnerOptions(
        providers=names or ["cpu"],
        threads=threads,
        device=engine_device,
        cuda_graph=cuda_graph,
        zero_copy=zero_copy,
    )


AllowFailedOpt = Annotated[
    bool,
    typer.Option(
        "--allow-failed",
        help="Use a bundle marked failed (a quantization kept with --keep-failed that missed "
        "its budget) or engines that failed `vla-edge validate`; they are refused without "
        "this, and used with a warning with it.",
    ),
]


def warn_failed(policy) -> None:
    """One warning line on stderr when the policy's bundle is marked failed (loaded with
    --allow-failed), with the reasons, and one per engine never validated, before anything
    runs."""
    from vla_edge.cli.common import err_console

    reasons = getattr(policy, "failure_reasons", [])
    if reasons:
        err_console.print(
            f"warning: {policy.source} is marked FAILED ({'; '.join(reasons)}); used because "
            "of --allow-failed",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    for key in getattr(policy, "unvalidated", []):
        err_console.print(
            f"warning: {policy.source}: {key} was never validated against its FP32 parent; "
            f"run `vla-edge validate {policy.source} --backend {policy.backend}` (build does it)",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
