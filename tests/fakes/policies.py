"""Fake policies with the Policy interface (`.spec`, `.predict(frames, instruction, state)`,
`.last_latency_ms`, `.close()`): null, slow, NaN-producing, raising, hanging.

Chunks are recognisable: call n (1-based) returns chunk[i, j] = 0.01 * n + 0.001 * i, clipped
to [-0.9, 0.9], so a test can tell which chunk and which step an action came from.
"""

from __future__ import annotations

import threading
import time

import numpy as np

from vla_edge.policy.spec import ActionSpace, CameraSpec, PolicySpec


def make_spec(
    cameras: tuple[str, ...] = ("front",),
    chunk: int = 8,
    dim: int = 4,
    state_dim: int = 0,
    size: int = 32,
    low: float = -1.0,
    high: float = 1.0,
    kind: str | list[str] | None = "absolute",
) -> PolicySpec:
    """Positions in metres by default (kind "absolute": hold repeats the last command)."""
    names = ["x", "y", "z", "grip", "roll", "pitch", "yaw"][:dim]
    return PolicySpec(
        cameras=[CameraSpec(c, size, size) for c in cameras],
        action=ActionSpace(
            names=names,
            units=["m"] * dim,
            low=[low] * dim,
            high=[high] * dim,
            chunk=chunk,
            kind=kind,
        ),
        state_dim=state_dim,
    )


class FakePolicy:
    """latency_s: sleep per predict (releases the GIL like a real backend);
    nan_calls / raise_calls / slow_calls: call numbers (1-based) that misbehave;
    slow_calls maps call number -> seconds."""

    def __init__(
        self,
        spec: PolicySpec | None = None,
        latency_s: float = 0.0,
        nan_calls=(),
        raise_calls=(),
        slow_calls: dict | None = None,
        value: float | None = None,
    ) -> None:
        self.spec = spec or make_spec()
        self.latency_s = latency_s
        self.nan_calls, self.raise_calls = set(nan_calls), set(raise_calls)
        self.slow_calls = dict(slow_calls or {})
        self.value = value
        self.calls = 0
        self.inputs: list[tuple[dict, str, np.ndarray | None]] = []
        self.last_latency_ms: float | None = None
        self.hang = threading.Event()  # set() makes every later call block until released
        self.release = threading.Event()
        self.source = "fake"
        self.backend = "fake"

    def predict(self, frames, instruction, state=None) -> np.ndarray:
        t0 = time.perf_counter()
        self.calls += 1
        n = self.calls
        if len(self.inputs) < 50:
            self.inputs.append(({k: v.shape for k, v in frames.items()}, instruction, state))
        delay = self.slow_calls.get(n, self.latency_s)
        if delay:
            time.sleep(delay)
        if self.hang.is_set():
            self.release.wait(30)
        if n in self.raise_calls:
            raise RuntimeError(f"fake failure on call {n}")
        chunk = self.chunk(n)
        if n in self.nan_calls:
            chunk[0, 0] = np.nan
            chunk[-1, -1] = np.inf
        self.last_latency_ms = (time.perf_counter() - t0) * 1e3
        return chunk

    def chunk(self, n: int) -> np.ndarray:
        a = self.spec.action
        if self.value is not None:
            return np.full((a.chunk, a.dim), self.value, dtype=np.float32)
        steps = 0.01 * n + 0.001 * np.arange(a.chunk, dtype=np.float32)
        return np.clip(np.repeat(steps[:, None], a.dim, axis=1), -0.9, 0.9).astype(np.float32)

    def close(self) -> None:
        pass


class NullPolicy:
    """Returns the same zero chunk at once: the loop's own cost, for benchmarks."""

    def __init__(self, spec: PolicySpec | None = None) -> None:
        self.spec = spec or make_spec()
        self._chunk = np.zeros((self.spec.action.chunk, self.spec.action.dim), np.float32)
        self.last_latency_ms = 0.0
        self.source = "null"

    def predict(self, frames, instruction, state=None) -> np.ndarray:
        return self._chunk

    def close(self) -> None:
        pass
