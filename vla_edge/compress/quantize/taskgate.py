"""Task gate: closed-loop success of the quantized bundle beside its parent's, recorded in the
bundle's validation report. Uses the simulation evaluator (vla_edge.sim) when it is installed;
otherwise the gate is recorded as skipped, with the reason."""

from __future__ import annotations

from vla_edge.bundle import Bundle
from vla_edge.compress.quantize.config import QuantizeConfig
from vla_edge.errors import VlaEdgeError


def _evaluator():
    """The sim package's evaluation function, or None with the reason."""
    try:
        from vla_edge.sim import evaluate as sim_eval
    except ImportError as exc:
        return None, f"the closed-loop evaluator (vla_edge.sim) is not available: {exc}"
    fn = getattr(sim_eval, "evaluate_policy", None) or getattr(sim_eval, "evaluate", None)
    if fn is None:
        return None, "vla_edge.sim.evaluate has no evaluate_policy/evaluate function"
    return fn, None


def run_suite(bundle: Bundle, suite: str, episodes: int, seed: int = 0) -> dict:
    """Closed-loop evaluation of a bundle (ONNX Runtime): the sim evaluator's report."""
    fn, reason = _evaluator()
    if fn is None:
        raise VlaEdgeError(reason)
    if bundle.failure_reasons:  # kept with --keep-failed: measuring it is allowed (no robot)
        from vla_edge.policy.policy import Policy

        with Policy.load(bundle.path, backend="onnxrt", allow_failed=True) as policy:
            return fn(policy, suite=suite, episodes=episodes, seed=seed, progress=False)
    return fn(
        str(bundle.path),
        suite=suite,
        episodes=episodes,
        backend="onnxrt",
        seed=seed,
        progress=False,
    )


def success_rate(bundle: Bundle, suite: str, episodes: int, seed: int = 0) -> float:
    return float(run_suite(bundle, suite, episodes, seed)["success_rate"])


def _parent_rate(parent: Bundle, suite: str, episodes: int, seed: int) -> tuple[float, str]:
    """Reuse the parent's recorded success on the same suite and episodes, else measure it."""
    task = parent.manifest.get("validation", {}).get("task") or {}
    same = task.get("suite") == suite and task.get("episodes_per_task") == episodes
    if same and task.get("success_rate") is not None:
        return float(task["success_rate"]), "recorded in the parent bundle"
    return success_rate(parent, suite, episodes, seed), "measured now"


def record_task(bundle: Bundle, parent: Bundle, config: QuantizeConfig, say) -> dict:
    suite, episodes = config.eval_suite, config.eval_episodes
    fn, reason = _evaluator()
    if fn is None:
        entry = {"suite": suite, "skipped": reason}
        say(f"task gate skipped: {reason}")
    else:
        say(f"task gate: {episodes} episodes per task of {suite}, quantized and parent")
        report = run_suite(bundle, suite, episodes, config.seed)
        rate = float(report["success_rate"])
        parent_rate, how = _parent_rate(parent, suite, episodes, config.seed)
        entry = {
            "suite": suite,
            "episodes_per_task": episodes,
            "episodes": report.get("episodes"),
            "success_rate": rate,
            "tasks": {k: v["success_rate"] for k, v in report.get("tasks", {}).items()},
            "parent_success_rate": parent_rate,
            "parent_source": how,
            "delta_points": round(100 * (rate - parent_rate), 2),
        }
    bundle.update(validation={**bundle.manifest["validation"], "task": entry})
    return entry
