"""Shared fixtures: tiny reference checkpoints and bundles, made once per test session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

HEADS = ("bins", "continuous", "flow")
pytest_plugins = ["tests.ar_bundles"]  # autoregressive checkpoints/bundles (ar_bundle)


def make_checkpoint(root: Path, head: str, preset: str = "tiny", **kw) -> Path:
    from vla_edge.policy.checkpoints import create_checkpoint

    out = root / f"ck-{preset}-{head}"
    if not out.exists():
        create_checkpoint(
            out,
            preset,
            head,
            kw.get("image_size"),
            kw.get("cameras", ("front",)),
            kw.get("chunk", 4),
            kw.get("state_dim", 8),
            "own",
            0,
            False,
        )
    return out


@pytest.fixture(scope="session")
def artifacts(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("artifacts")


@pytest.fixture(scope="session")
def tiny_checkpoint(artifacts):
    """Factory: tiny checkpoint per head (cached)."""
    return lambda head="bins": make_checkpoint(artifacts, head)


@pytest.fixture(scope="session")
def tiny_bundle(artifacts, tiny_checkpoint):
    """Factory: tiny bundle per (head, layout) (cached). Do not modify it: copy it first."""
    from vla_edge.export import ExportConfig, export_checkpoint

    def make(head: str = "bins", monolithic: bool = False) -> Path:
        out = artifacts / f"bundle-{head}-{'mono' if monolithic else 'split'}"
        if not out.exists():
            export_checkpoint(tiny_checkpoint(head), out, ExportConfig(monolithic=monolithic))
        return out

    return make
