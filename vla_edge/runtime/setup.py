"""Building a ControlLoop's cameras and actuator from command-line strings (used by the CLI)."""

from __future__ import annotations

from vla_edge.errors import RuntimeLoopError
from vla_edge.policy.spec import PolicySpec
from vla_edge.runtime.actuators import open_actuator
from vla_edge.runtime.actuators.base import Actuator
from vla_edge.runtime.cameras import open_camera, parse_camera_arg
from vla_edge.runtime.cameras.base import Camera


def build_cameras(spec: PolicySpec, args: list[str], sim=None) -> dict[str, Camera]:
    """Match `[NAME=]SOURCE` arguments to the spec's cameras. With a simulator session and no
    arguments, each spec camera reads the simulator camera of the same name."""
    names = spec.camera_names
    if not args:
        if sim is None:
            raise RuntimeLoopError(
                f"no --camera given; this policy needs {names}: "
                + " ".join(f"--camera {n}=SOURCE" for n in names)
            )
        args = [f"{n}=sim:{n}" for n in names]
    parsed = [parse_camera_arg(a) for a in args]
    if len(parsed) == 1 and parsed[0][0] is None and len(names) == 1:
        parsed = [(names[0], parsed[0][1])]
    unnamed = [src for name, src in parsed if name is None]
    if unnamed:
        raise RuntimeLoopError(
            f"this policy has cameras {names}; name each source: --camera NAME=SOURCE "
            f"(unnamed: {unnamed})"
        )
    cams: dict[str, Camera] = {}
    for name, source in parsed:
        if name in cams:
            raise RuntimeLoopError(f"camera {name!r} is given twice")
        cams[name] = _camera(name, source, sim)
    return cams


def _camera(name: str, source: str, sim) -> Camera:
    if source.startswith("sim:"):
        if sim is None:
            raise RuntimeLoopError(f"camera source {source!r} needs --sim SUITE:TASK")
        from vla_edge.runtime.sim import SimCamera

        return SimCamera(sim, name, source.removeprefix("sim:") or name)
    return open_camera(source, name)


def build_actuator(spec: PolicySpec, uri: str | None, period_s: float, sim=None) -> Actuator:
    if uri is None:
        uri = "sim" if sim is not None else "stdout"
    if uri == "sim":
        if sim is None:
            raise RuntimeLoopError("actuator 'sim' needs --sim SUITE:TASK")
        from vla_edge.runtime.sim import SimRobot

        return SimRobot(sim)
    return open_actuator(uri, list(spec.action.names), period_s)


def open_sim(target: str | None, seed: int = 0, spec: PolicySpec | None = None):
    """A SimSession for `--sim SUITE:TASK` (rendering at the policy's camera size), or None."""
    if target is None:
        return None
    from vla_edge.runtime.sim import SimSession

    size = spec.cameras[0].height if spec is not None else None
    return SimSession.open(target, seed=seed, image_size=size)
