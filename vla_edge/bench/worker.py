"""One benchmark variant in its own process: `python -m vla_edge.bench.worker '<json>'`.

The parent sends one command per stdin line and reads one JSON line per command from stdout:
`warmup N` -> {"ok": true}; `run N` -> {"times_ms": [...]}; `quit` -> final memory, then exit.
On start the worker loads the policy, answers {"ready": ..., "actions": ...} with the actions it
predicts for the shared sample observations (same seed in every variant), then waits. Only one
worker runs at a time, so every variant sees the same machine; rounds alternate between them.
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np

INSTRUCTION = "pick up the red block"


def memory_mb() -> dict[str, float]:
    """Resident set size now and at its peak (Linux /proc; ru_maxrss elsewhere)."""
    out: dict[str, float] = {}
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                key, _, value = line.partition(":")
                if key in ("VmRSS", "VmHWM"):
                    out[key] = float(value.split()[0]) / 1024
    except OSError:
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        out = {"VmRSS": peak, "VmHWM": peak}
    return {"rss_mb": out.get("VmRSS", 0.0), "peak_rss_mb": out.get("VmHWM", 0.0)}


def observations(spec, batch: int, count: int, seed: int = 0) -> list[tuple[dict, np.ndarray]]:
    """`count` batches of random frames and states, identical for every variant."""
    rng = np.random.default_rng(seed)
    obs = []
    for _ in range(count):
        frames = {
            c.name: rng.integers(0, 256, (batch, c.height, c.width, 3), dtype=np.uint8)
            for c in spec.cameras
        }
        state = rng.normal(size=(batch, spec.state_dim)).astype(np.float32)
        obs.append((frames, state if spec.state_dim else None))
    return obs


def _load(cfg: dict):
    from vla_edge.backends.factory import RunnerOptions
    from vla_edge.policy.policy import Policy

    if cfg["backend"] == "torch":
        import torch

        torch.set_num_threads(cfg.get("threads") or torch.get_num_threads())
    options = RunnerOptions(
        providers=cfg.get("providers") or ["cpu"],
        threads=cfg.get("threads"),
        device=cfg.get("engine_device"),
        cuda_graph=bool(cfg.get("cuda_graph")),
        zero_copy=cfg.get("zero_copy"),
    )
    # timing a bundle marked failed is allowed (benchmark warns about it; it drives nothing)
    return Policy.load(cfg["bundle"], backend=cfg["backend"], options=options, allow_failed=True)


def _reply(data: dict) -> None:
    sys.stdout.write(json.dumps(data) + "\n")
    sys.stdout.flush()


def _time(policy, frames, state, n: int, decode: list | None = None):
    """Wall-clock and process CPU time of each call, in ms. With one thread the CPU time is
    the compute time even when other jobs share the machine (wall time then includes waits).
    A decoder LLM's per-graph-call timings go into `decode`."""
    wall, cpu = [], []
    for _ in range(n):
        start, start_cpu = time.perf_counter(), time.process_time()
        policy.predict_batch(frames, INSTRUCTION, state)
        wall.append((time.perf_counter() - start) * 1e3)
        cpu.append((time.process_time() - start_cpu) * 1e3)
        if decode is not None and policy.decode_timing:
            decode.append(policy.decode_timing)
    return wall, cpu


def serve(cfg: dict) -> None:
    base = memory_mb()
    policy = _load(cfg)
    batch = cfg.get("batch", 1)
    samples = observations(policy.spec, 1, cfg.get("samples", 8))
    actions = [policy.predict_batch(f, INSTRUCTION, s)[0].tolist() for f, s in samples]
    frames, state = observations(policy.spec, batch, 1, seed=1)[0]
    loaded = memory_mb()
    _reply({"ready": True, "actions": actions, "base": base, "loaded": loaded})
    for line in sys.stdin:
        cmd, _, arg = line.strip().partition(" ")
        if cmd == "warmup":
            _time(policy, frames, state, int(arg))
            _reply({"ok": True})
        elif cmd == "run":
            decode: list = []
            wall, cpu = _time(policy, frames, state, int(arg), decode)
            _reply({"times_ms": wall, "cpu_ms": cpu, "decode": decode})
        elif cmd == "quit":
            policy.close()
            _reply({"memory": memory_mb(), "base": base, "cuda": _cuda_memory()})
            return


def _cuda_memory() -> dict | None:
    from vla_edge.bench import nvml

    return nvml.process_memory()


def main() -> None:
    try:
        serve(json.loads(sys.argv[1]))
    except Exception as exc:  # report any failure to the parent as one JSON line
        _reply({"error": f"{type(exc).__name__}: {exc}"})
        sys.exit(1)


if __name__ == "__main__":
    main()
