"""Inputs that `predict` and `run` take from the command line and never guess: the state of a
policy that takes one, its instruction, one image per camera."""

from __future__ import annotations

from vla_edge.errors import InputError


def parse_state_option(text: str | None) -> str | list[float] | None:
    """`--state mean|zeros|v1,v2,...` -> "mean", "zeros", a list of floats, or None."""
    if text is None:
        return None
    word = text.strip().lower()
    if word in ("mean", "zeros"):
        return word
    try:
        return [float(v) for v in text.split(",")]
    except ValueError:
        raise InputError(
            f"--state must be 'mean', 'zeros' or comma-separated numbers, got {text!r}"
        ) from None


def state_vector(spec, asked: str | list[float] | None, example: bool = False):
    """The state array `predict` feeds: as asked; for --example without --state the mean (the
    example is synthetic anyway); otherwise refused for a policy that takes a state."""
    import numpy as np

    n = spec.state_dim
    if not n:
        return None
    if asked is None and not example:
        raise InputError(
            f"this policy takes a proprio state of {n} values; give --state v1,...,v{n} (the "
            "robot's state), or ask for a stand-in explicitly: --state mean (the training "
            "mean) or --state zeros"
        )
    if asked is None or asked == "mean":
        mean = spec.normalization.state_mean
        if mean is None and asked == "mean":
            raise InputError("--state mean: this policy's spec records no state mean")
        return np.asarray(mean or [0.0] * n, np.float32)
    if asked == "zeros":
        return np.zeros(n, np.float32)
    return np.asarray(asked, np.float32)


def check_instruction(policy, text: str) -> None:
    """An empty instruction is refused for a policy that reads one (the policy would act on
    no task at all); a policy without a text input takes none."""
    if getattr(policy, "takes_instruction", False) and not text.strip():
        raise InputError(
            "this policy reads an instruction and none was given (empty or only spaces): "
            'give --instruction "what the robot should do"'
        )


def image_args(items: list[str], camera_names: list[str]) -> list[tuple[str, str]]:
    """`[CAMERA=]PATH` items -> (camera, path); an unnamed one is the first camera. A camera
    given twice is refused (the last would silently win)."""
    out: list[tuple[str, str]] = []
    seen: dict[str, str] = {}
    for item in items:
        cam, _, path = item.rpartition("=")
        cam = cam or camera_names[0]
        if cam in seen:
            raise InputError(
                f"--image gives camera {cam!r} twice ({seen[cam]!r} and {path!r}); give one "
                f"--image CAMERA=PATH per camera of {camera_names}"
            )
        seen[cam] = path
        out.append((cam, path))
    return out


def parse_kinds(text: str | None) -> str | list[str] | None:
    """`--action-kind delta` -> "delta"; `delta,delta,absolute` -> a list (the spec checks
    the values and the number of dimensions)."""
    if text is None:
        return None
    parts = [p.strip() for p in text.split(",")]
    return parts[0] if len(parts) == 1 else parts
