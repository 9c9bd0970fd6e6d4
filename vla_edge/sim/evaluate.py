"""Closed-loop evaluation: run a policy on a suite's tasks and count successes.

    with Policy.load("exports/pick", backend="onnxrt") as policy:
        report = evaluate(policy, EvalConfig(suite="mt10", episodes=10))

Evaluation seeds come from EVAL_SEED_BASE upwards, disjoint from the demonstration seeds, so
every placement is new to the policy. A predicted chunk is executed open loop for `execute`
steps (default: the whole chunk), then the policy is asked again; `execute=1` replans every
step. `ablate` (see vla_edge.sim.ablate) re-runs the same seeds with black frames, another
episode's frames, an empty or another task's instruction, or the mean state, and records each
result beside the plain one under `ablations`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vla_edge.errors import SimError
from vla_edge.policy.policy import limit_actions
from vla_edge.sim.suites import EVAL_SEED_BASE, get_suite

STRIP_FRAMES = 8  # frames per task in a saved image strip


@dataclass
class EvalConfig:
    suite: str = "mt10"
    episodes: int = 5  # per task
    tasks: list[str] = field(default_factory=list)  # empty: every task of the suite
    execute: int | None = None  # actions run per prediction; None: the whole chunk
    seed_offset: int = 0
    save_video: Path | None = None  # .png strip or .gif of each task's first episode
    ablate: list[str] = field(default_factory=list)  # groups or variants (vla_edge.sim.ablate)

    def __post_init__(self) -> None:
        from vla_edge.sim.ablate import variants

        self.ablate = variants(self.ablate)
        suite = get_suite(self.suite)
        for t in self.tasks:
            suite.task(t)
        if self.episodes < 1:
            raise SimError(f"episodes must be >= 1, got {self.episodes}")
        if self.execute is not None and self.execute < 1:
            raise SimError(f"execute must be >= 1 (1 = replan every step), got {self.execute}")
        if self.save_video is not None and Path(self.save_video).suffix not in (".png", ".gif"):
            raise SimError(f"--save-video must end in .png (strip) or .gif, got {self.save_video}")


def eval_seed(task_index: int, episode: int, offset: int = 0) -> int:
    return EVAL_SEED_BASE + task_index * 10_000 + offset + episode


def _check_spec(policy, suite) -> int:
    spec = policy.spec
    names = spec.camera_names
    if not set(names) <= set(suite.cameras):
        raise SimError(
            f"suite {suite.name!r} renders cameras {list(suite.cameras)}; the policy takes "
            f"{names}: evaluate on a suite whose cameras match, or retrain"
        )
    sizes = {(c.height, c.width) for c in spec.cameras}
    if len(sizes) != 1 or any(h != w for h, w in sizes):
        raise SimError(
            f"the simulator renders square frames of one size; the policy takes {sorted(sizes)}"
        )
    if spec.state_dim != suite.state_dim:
        raise SimError(
            f"suite {suite.name!r} gives a {suite.state_dim}-D {suite.state} state; the policy "
            f"takes {spec.state_dim}: evaluate on a suite with its state (e.g. mt10 for 21-D, "
            "mt10-vision for 4-D proprio)"
        )
    if spec.action.dim != 4:
        raise SimError(f"Meta-World takes 4-D actions; the policy outputs {spec.action.dim}")
    return spec.cameras[0].height


def run_episode(env, policy, execute: int | None, record: bool, view=None) -> dict:
    """One episode; returns success, length, per-prediction latencies, and frames if asked.
    `view` (vla_edge.sim.ablate.View) decides what the policy is given; default: everything."""
    from vla_edge.sim.ablate import View

    view = view or View(policy, env.suite)
    a = policy.spec.action
    limits = (np.asarray(a.low, np.float32), np.asarray(a.high, np.float32), a.names)
    queue: list[np.ndarray] = []
    latencies, frames = [], []
    success = done = False
    while not done:
        if not queue:
            obs = view.frames(env)
            chunk = policy.predict(obs, view.instruction(env), view.state(env))
            chunk = limit_actions(chunk, *limits)  # clamped; NaN/inf ends the eval, named
            latencies.append(float(policy.last_latency_ms))
            steps = execute or policy.spec.action.n_action_steps or len(chunk)
            queue = list(chunk[:steps])
            if record:
                frames.append(np.concatenate(list(obs.values()), axis=1))
        action = queue.pop(0)
        success, done = env.step(action)
        view.step(action)
    return {
        "success": bool(success),
        "length": env.steps,
        "latency_ms": latencies,
        "frames": frames,
    }


def evaluate(
    policy,
    cfg: EvalConfig | None = None,
    progress: bool = True,
    *,
    backend: str = "onnxrt",
    **fields,
) -> dict:
    """Run cfg.episodes episodes per task; returns per-task and overall figures.

    `policy` is a loaded Policy (or anything with its predict/spec/last_latency_ms), or a
    bundle/checkpoint path loaded here with `backend`. Without `cfg`, keyword fields build one
    (`suite=`, `episodes=`, `seed=` as an offset to the evaluation seeds)."""
    if cfg is None:
        fields["seed_offset"] = fields.pop("seed", 0)
        cfg = EvalConfig(**fields)
    if isinstance(policy, (str, Path)):
        from vla_edge.policy.policy import Policy

        with Policy.load(policy, backend=backend) as loaded:
            return evaluate(loaded, cfg, progress)
    return _evaluate(policy, cfg, progress)


evaluate_policy = evaluate


def _evaluate(policy, cfg: EvalConfig, progress: bool) -> dict:
    from vla_edge.sim.ablate import make_view, summary

    suite = get_suite(cfg.suite)
    _check_spec(policy, suite)
    views = {v: make_view(v, policy, suite) for v in cfg.ablate}  # refuse bad ones up front
    report = _run(policy, cfg, suite, make_view("plain", policy, suite), progress, "eval")
    if views:
        report["ablations"] = {}
    for name, view in views.items():
        ablated = _run(policy, cfg, suite, view, progress, name, record=False)
        report["ablations"][name] = summary(ablated, name)
    return report


def _run(policy, cfg: EvalConfig, suite, view, progress: bool, desc: str, record=True) -> dict:
    from tqdm import tqdm

    from vla_edge.sim.env import make_env

    size = policy.spec.cameras[0].height
    tasks = [
        t
        for t in suite.tasks
        if not cfg.tasks or t.env_name in {suite.task(n).env_name for n in cfg.tasks}
    ]
    save_video = cfg.save_video if record else None
    per_task, latencies, strips = {}, [], []
    steps, start = 0, time.perf_counter()
    bar = tqdm(total=len(tasks) * cfg.episodes, desc=desc, unit="ep", disable=not progress)
    for task in tasks:
        ti = suite.tasks.index(task)
        env = make_env(suite.name, task.env_name, eval_seed(ti, 0, cfg.seed_offset), size)
        results = []
        try:
            for k in range(cfg.episodes):
                env.reset(eval_seed(ti, k, cfg.seed_offset))
                other = eval_seed(ti, (k + 1) % max(cfg.episodes, 2), cfg.seed_offset)
                view.start(env, ti, other)
                res = run_episode(env, policy, cfg.execute, bool(save_video and k == 0), view)
                results.append(res)
                latencies += res["latency_ms"]
                steps += res["length"]
                bar.update(1)
        finally:
            env.close()
        per_task[task.env_name] = _task_summary(results)
        if save_video:
            strips.append(results[0]["frames"])
        bar.set_postfix_str(f"{task.env_name} {per_task[task.env_name]['success_rate']:.0%}")
    bar.close()
    view.close()
    seconds = time.perf_counter() - start
    report = _report(cfg, policy, per_task, latencies, steps, seconds)
    if save_video:
        report["video"] = str(save_frames(strips, Path(save_video)))
    return report


def _task_summary(results: list[dict]) -> dict:
    lengths = [r["length"] for r in results]
    wins = sum(r["success"] for r in results)
    return {
        "success_rate": wins / len(results),
        "successes": wins,
        "episodes": len(results),
        "mean_length": float(np.mean(lengths)),
        "lengths": lengths,
    }


def _report(cfg, policy, per_task, latencies, steps, seconds) -> dict:
    wins = sum(t["successes"] for t in per_task.values())
    total = sum(t["episodes"] for t in per_task.values())
    lat = np.asarray(latencies or [np.nan])
    return {
        "suite": cfg.suite,
        "backend": getattr(policy, "backend", "unknown"),
        "source": str(getattr(policy, "source", "")),
        "episodes_per_task": cfg.episodes,
        "execute": cfg.execute or policy.spec.action.n_action_steps or policy.spec.action.chunk,
        "chunk": policy.spec.action.chunk,
        "seeds": f"eval seeds from {EVAL_SEED_BASE + cfg.seed_offset} (demos use < "
        f"{EVAL_SEED_BASE})",
        "success_rate": wins / total,
        "successes": wins,
        "episodes": total,
        "mean_length": float(np.mean([x for t in per_task.values() for x in t["lengths"]])),
        "latency_ms": {
            "mean": float(lat.mean()),
            "p50": float(np.percentile(lat, 50)),
            "p90": float(np.percentile(lat, 90)),
            "predictions": len(latencies),
        },
        "env_steps": steps,
        "seconds": round(seconds, 1),
        "steps_per_s": steps / seconds,
        "tasks": per_task,
    }


def save_frames(strips: list[list[np.ndarray]], path: Path) -> Path:
    """A .png with one row per task (evenly spaced frames of its first episode) or a .gif."""
    import imageio.v2 as imageio

    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".gif":
        imageio.mimsave(path, [f for s in strips for f in s], duration=0.1, loop=0)
        return path
    rows = []
    for frames in strips:
        pick = np.linspace(0, len(frames) - 1, STRIP_FRAMES).round().astype(int)
        rows.append(np.concatenate([frames[i] for i in pick], axis=1))
    imageio.imwrite(path, np.concatenate(rows, axis=0))
    return path


def record_in_bundle(path: str | Path, report: dict) -> None:
    """Keep an evaluation's figures (and its ablations) in the bundle's validation, per suite:
    `validation.eval[suite]`; `vla-edge info` shows them."""
    from vla_edge.bundle import Bundle

    bundle = Bundle.load(path, verify=False)
    keep = ("backend", "episodes_per_task", "seeds", "success_rate", "successes", "episodes")
    entry = {k: report[k] for k in keep}
    entry["tasks"] = {
        t: {"successes": v["successes"], "episodes": v["episodes"]}
        for t, v in report["tasks"].items()
    }
    if report.get("ablations"):
        entry["ablations"] = report["ablations"]
    validation = dict(bundle.manifest.get("validation", {}))
    validation["eval"] = {**validation.get("eval", {}), report["suite"]: entry}
    bundle.update(validation=validation)
