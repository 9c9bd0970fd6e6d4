"""LeRobot tests run in the Python >= 3.12 LeRobot venv (`.ci/run` makes it); elsewhere each
module skips with the reason."""

import pytest


@pytest.fixture(scope="session")
def lerobot_ckpts(tmp_path_factory):
    """Build each tiny checkpoint once per session: {kind: pretrained_model path}."""
    from tests.lerobot import tiny

    root = tmp_path_factory.mktemp("lerobot")
    made = {}

    def get(kind: str, **overrides):
        key = (kind, tuple(sorted(overrides.items())))
        if key not in made:
            name = kind + "".join(f"-{k}-{v}" for k, v in sorted(overrides.items()))
            made[key] = getattr(tiny, kind)(root / name / "pretrained_model", **overrides)
        return made[key]

    return get
