"""`vla-edge predict BUNDLE --image [CAM=]PATH --instruction TEXT`: one action chunk."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from vla_edge.cli.common import BackendOpt, JsonOpt, command, console, print_json
from vla_edge.errors import InputError


def register(app: typer.Typer) -> None:
    command(app, "predict")(predict)


def predict(
    bundle: Annotated[Path, typer.Argument(help="Bundle (or checkpoint with --backend torch).")],
    image: Annotated[
        list[str],
        typer.Option("--image", help="[CAMERA=]PATH of an image (PNG/JPEG/.npy); once per camera."),
    ],
    instruction: Annotated[str, typer.Option(help="What the robot should do.")],
    state: Annotated[str | None, typer.Option(help="Comma-separated proprio state.")] = None,
    backend: BackendOpt = "onnxrt",
    resize: Annotated[bool, typer.Option(help="Resize images to the camera size.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Predict one action chunk from image files, an instruction and a state."""
    import numpy as np

    from vla_edge.policy.images import load_image
    from vla_edge.policy.policy import Policy

    with Policy.load(bundle, backend=backend) as policy:
        spec = policy.spec
        frames = {}
        for item in image:
            cam, _, path = item.rpartition("=")
            cam = cam or spec.camera_names[0]
            c = spec.camera(cam)
            frames[cam] = load_image(Path(path), (c.height, c.width) if resize else None)
        st = None if state is None else _parse_state(state)
        if st is None and spec.state_dim:
            st = np.asarray(spec.normalization.state_mean or [0.0] * spec.state_dim, np.float32)
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


def _parse_state(text: str):
    import numpy as np

    try:
        return np.asarray([float(v) for v in text.split(",")], np.float32)
    except ValueError as exc:
        raise InputError(f"--state must be comma-separated numbers, got {text!r}") from exc
