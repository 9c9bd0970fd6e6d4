"""LeRobot tests run in the Python >= 3.12 LeRobot venv (`.ci/run` makes it); elsewhere they
skip with the reason."""

import pytest

pytest.importorskip(
    "lerobot.policies",
    reason="lerobot >= 0.5 needs Python >= 3.12: run these in .venv-lerobot (see .ci/run)",
)


def pytest_collection_modifyitems(items):
    for item in items:
        item.add_marker(pytest.mark.lerobot)


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
