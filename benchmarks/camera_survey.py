"""Which Meta-World cameras can show a policy where the goal and the object are?

For each camera and size: pixels of the goal site and of the object body (MuJoCo segmentation
rendering) over a few placements of reach, push and pick-place, at the start and half way
through the expert's episode, and the FastRenderer's time per frame. Writes
benchmarks/results/camera_survey.{json,md}.

    python benchmarks/camera_survey.py [--seeds 4] [--sizes 64 96 128]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

CAMERAS = ("corner", "corner2", "corner3", "topview", "behindGripper", "gripperPOV")
TASKS = ("reach-v3", "push-v3", "pick-place-v3")
OUT = Path(__file__).parent / "results"


def _pixels(renderer, data, camera, mj, goal_site: int, obj_geoms: list[int]) -> tuple[int, int]:
    renderer.update_scene(data, camera=camera)
    seg = renderer.render()
    ids, types = seg[..., 0], seg[..., 1]
    goal = int(((types == mj.mjtObj.mjOBJ_SITE) & (ids == goal_site)).sum())
    obj = int(((types == mj.mjtObj.mjOBJ_GEOM) & np.isin(ids, obj_geoms)).sum())
    return goal, obj


def survey(seeds: int, sizes: list[int]) -> dict:
    from vla_edge.sim.env import make_env
    from vla_edge.sim.render import FastRenderer, choose_gl_backend

    choose_gl_backend()
    import mujoco

    counts: dict = {}
    for task in TASKS:
        env = make_env("mt10", task, 100_000)
        m, d = env._env.model, env._env.data  # noqa: SLF001
        goal = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_SITE, "goal")
        obj_body = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_BODY, "obj")
        obj_geoms = [g for g in range(m.ngeom) if m.geom_bodyid[g] == obj_body]
        segs = {s: mujoco.Renderer(m, s, s) for s in sizes}
        for r in segs.values():
            r.enable_segmentation_rendering()
        for k in range(seeds):
            env.reset(100_000 + k)
            for phase in ("start", "half"):
                if phase == "half":
                    for _ in range(25):
                        env.step(env.expert_action())
                for size, r in segs.items():
                    for cam in CAMERAS:
                        key = f"{cam}@{size}"
                        g, o = _pixels(r, d, cam, mujoco, goal, obj_geoms)
                        counts.setdefault(key, {"goal": [], "object": []})
                        counts[key]["goal"].append(g)
                        counts[key]["object"].append(o)
        for r in segs.values():
            r.close()
        env.close()
    return {key: _summary(v) | _speed(key, FastRenderer) for key, v in counts.items()}


def _summary(v: dict) -> dict:
    goal, obj = np.asarray(v["goal"]), np.asarray(v["object"])
    return {
        "goal_px_median": float(np.median(goal)),
        "goal_visible": float((goal > 0).mean()),
        "object_px_median": float(np.median(obj)),
        "object_visible": float((obj > 0).mean()),
        "views": len(goal),
    }


def _speed(key: str, renderer_cls, frames: int = 40) -> dict:
    from vla_edge.sim.env import make_env

    cam, size = key.split("@")
    env = make_env("mt10", "push-v3", 100_000)
    env.reset(100_000)
    r = renderer_cls(env._env.model, cam, int(size))  # noqa: SLF001
    r.render(env._env.data)  # noqa: SLF001
    start = time.perf_counter()
    for _ in range(frames):
        r.render(env._env.data)  # noqa: SLF001
    ms = (time.perf_counter() - start) / frames * 1e3
    r.close()
    env.close()
    return {"render_ms": round(ms, 2)}


def write(results: dict, args) -> None:
    OUT.mkdir(exist_ok=True)
    meta = {
        "command": "python benchmarks/camera_survey.py "
        + " ".join(
            f"--{k} {' '.join(map(str, v)) if isinstance(v, list) else v}"
            for k, v in vars(args).items()
        ),
        "load_average": os.getloadavg(),
        "tasks": TASKS,
    }
    (OUT / "camera_survey.json").write_text(json.dumps({**meta, "cameras": results}, indent=2))
    lines = [
        "# Camera survey: what each Meta-World camera shows of the goal and the object",
        "",
        f"`{meta['command']}`; {TASKS}, evaluation placements, at the episode start and after 25",
        f"expert steps; load average {meta['load_average'][0]:.1f} (render time is per frame on",
        "this shared 2-core CPU, FastRenderer, EGL).",
        "",
        "| camera @ px | goal px (median) | goal visible | object px (median) | object visible |"
        " render ms |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for key, r in results.items():
        lines.append(
            f"| {key} | {r['goal_px_median']:.0f} | {r['goal_visible']:.0%} | "
            f"{r['object_px_median']:.0f} | {r['object_visible']:.0%} | {r['render_ms']:.1f} |"
        )
    (OUT / "camera_survey.md").write_text("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=4)
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 96, 128])
    args = parser.parse_args()
    results = survey(args.seeds, args.sizes)
    write(results, args)
    print((OUT / "camera_survey.md").read_text())


if __name__ == "__main__":
    main()
