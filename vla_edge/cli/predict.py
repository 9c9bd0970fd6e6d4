"""`vla-edge predict BUNDLE --image [CAM=]PATH --instruction TEXT`: one action chunk.
`vla-edge predict BUNDLE --example` runs a test pattern and an example instruction (a smoke test
that needs no files: `deploy` runs it on the robot as its health check)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from vla_edge.cli.common import BackendOpt, JsonOpt, command, console, print_json
from vla_edge.cli.inputs import check_instruction, image_args, parse_state_option, state_vector
from vla_edge.cli.options import (
    AllowFailedOpt,
    CudaGraphOpt,
    EngineDeviceOpt,
    ProvidersOpt,
    ZeroCopyOpt,
    runner_options,
    warn_failed,
)
from vla_edge.errors import InputError

EXAMPLE_INSTRUCTION = "pick up the red block"


def register(app: typer.Typer) -> None:
    command(app, "predict")(predict)


def predict(
    bundle: Annotated[Path, typer.Argument(help="Bundle (or checkpoint with --backend torch).")],
    instruction: Annotated[
        str | None,
        typer.Option(help=f"What the robot should do (with --example: {EXAMPLE_INSTRUCTION!r})."),
    ] = None,
    image: Annotated[
        list[str] | None,
        typer.Option("--image", help="[CAMERA=]PATH of an image (PNG/JPEG/.npy); once per camera."),
    ] = None,
    example: Annotated[
        bool, typer.Option("--example", help="Use a synthetic test-pattern frame per camera.")
    ] = False,
    state: Annotated[
        str | None,
        typer.Option(
            help="Proprio state v1,v2,... (required by a policy that takes one), or mean | zeros "
            "to ask for a stand-in explicitly (--example alone uses the mean)."
        ),
    ] = None,
    backend: BackendOpt = "onnxrt",
    threads: Annotated[int | None, typer.Option(help="Inference threads (backend).")] = None,
    providers: ProvidersOpt = None,
    cuda_graph: CudaGraphOpt = False,
    zero_copy: ZeroCopyOpt = None,
    engine_device: EngineDeviceOpt = None,
    allow_failed: AllowFailedOpt = False,
    resize: Annotated[bool, typer.Option(help="Resize images to the camera size.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Predict one action chunk from image files, an instruction and a state."""

    from vla_edge.policy.images import load_image
    from vla_edge.policy.policy import Policy

    options = runner_options(threads, providers, cuda_graph, zero_copy, engine_device)
    with Policy.load(bundle, backend=backend, options=options, allow_failed=allow_failed) as policy:
        warn_failed(policy)
        spec = policy.spec
        frames = _example_frames(spec) if example else {}
        if not image and not example:
            raise InputError(
                f"give one --image CAMERA=PATH per camera ({spec.camera_names}) or --example"
            )
        for cam, path in image_args(image or [], spec.camera_names):
            c = spec.camera(cam)
            frames[cam] = load_image(Path(path), (c.height, c.width) if resize else None)
        if instruction is None and not example:
            raise InputError("give --instruction TEXT (it may be left out only with --example)")
        instruction = EXAMPLE_INSTRUCTION if instruction is None else instruction
        check_instruction(policy, instruction)
        st = state_vector(spec, parse_state_option(state), example)
        actions = policy.predict(frames, instruction, st)
        ms = policy.last_latency_ms
    if json_out:
        print_json(
            {
                "actions": actions.tolist(),
                "names": spec.action.names,
                "units": spec.action.units,
                "latency_ms": ms,
                "backend": backend,
            }
        )
        return
    a = spec.action
    console.print(f"{a.chunk}-step action chunk ({backend}, {ms:.1f} ms):")
    console.print(
        "  " + "  ".join(f"{n} [{u}]".rjust(12) for n, u in zip(a.names, a.units, strict=True))
    )
    for row in actions:
        console.print("  " + "  ".join(f"{v:12.5f}" for v in row))


def _example_frames(spec) -> dict:
    """A deterministic colour-gradient test pattern per camera (no files needed)."""
    import numpy as np

    frames = {}
    for cam in spec.cameras:
        y, x = np.mgrid[0 : cam.height, 0 : cam.width]
        img = np.stack(
            [x * 255 // max(cam.width - 1, 1), y * 255 // max(cam.height - 1, 1), (x + y) % 256],
            axis=-1,
        )
        frames[cam.name] = img.astype(np.uint8)
    return frames
