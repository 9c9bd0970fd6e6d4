"""`vla-edge demo`: the shipped policy -> verified ONNX bundle -> closed-loop run in simulation.

No arguments, no hardware, no downloads: the policy ships inside the package
(vla_edge/assets/policies/), the simulator renders on the CPU, inference runs in ONNX Runtime.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from vla_edge.errors import SimError

POLICIES = Path(__file__).resolve().parent.parent / "assets" / "policies"
DEFAULT_POLICY = "mt10-vision-bins"


def shipped_policies() -> list[str]:
    if not POLICIES.is_dir():
        return []
    return sorted(p.name for p in POLICIES.iterdir() if (p / "config.json").is_file())


def shipped_policy(name: str = DEFAULT_POLICY) -> Path:
    path = POLICIES / name
    if not (path / "config.json").is_file():
        raise SimError(f"no shipped policy {name!r}; shipped: {shipped_policies()}")
    return path


def recorded_eval(name: str, backend: str = "onnxrt") -> dict | None:
    path = POLICIES / name / f"eval_{backend}.json"
    return json.loads(path.read_text()) if path.is_file() else None


# the demo runs a recorded suite's quick sibling (same cameras and state, three tasks), so the
# README's first command stays well under a minute on a CPU
DEMO_SUITES = {"mt10-vision": "mt3-vision-smoke"}


def policy_suite(name: str) -> str:
    """The suite `vla-edge demo` runs a shipped policy on: the one its result was recorded on
    (mt10 when none is), or that suite's quick sibling."""
    rec = recorded_eval(name)
    suite = rec["suite"] if rec else "mt10"
    return DEMO_SUITES.get(suite, suite)


def run_demo(
    name: str,
    out: Path,
    suite: str | None,
    episodes: int,
    tasks: list[str],
    progress: bool = True,
) -> dict:
    """Export the shipped policy into `out`/bundle, evaluate it closed loop, write a strip
    (`suite` None: the suite the policy was recorded on)."""
    from vla_edge.bundle import Bundle
    from vla_edge.export import ExportConfig, export_checkpoint
    from vla_edge.policy.policy import Policy
    from vla_edge.sim.evaluate import EvalConfig, evaluate
    from vla_edge.sim.suites import get_suite

    ckpt = shipped_policy(name)
    suite = suite or policy_suite(name)
    get_suite(suite)  # an unknown suite is refused before the export, not after it
    bundle_dir, strip = out / f"{name}-bundle", out / f"{name}-episodes.png"
    start = time.perf_counter()
    export_checkpoint(ckpt, bundle_dir, ExportConfig(force=True, include_source=False))
    export_s = time.perf_counter() - start
    bundle = Bundle.load(bundle_dir)
    cfg = EvalConfig(suite=suite, episodes=episodes, tasks=tasks, save_video=strip)
    with Policy.load(bundle_dir, backend="onnxrt") as policy:
        report = evaluate(policy, cfg, progress=progress)
    return {
        "policy": name,
        "checkpoint": str(ckpt),
        "bundle": str(bundle_dir),
        "bundle_mb": bundle.size_bytes(graphs_only=False) / 1e6,
        "export_s": export_s,
        "strip": report.get("video"),
        "eval": report,
        "recorded": recorded_eval(name),
    }
