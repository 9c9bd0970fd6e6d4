"""Action chunking: how a policy's chunk of H future actions becomes one action per tick.

A chunk predicted from the observation taken at tick `o` holds the actions for ticks
o, o+1, ..., o+H-1. Strategies (`--chunking`):

- `open-loop`: infer, execute `execute` actions of the chunk (default all H) open loop, infer
  again. Inference runs in the loop, so the cycle that infers is long.
- `ensemble`: infer every tick and average every chunk's prediction for the current tick with
  ACT's temporal-ensembling weights w_i = exp(-m * i), i = 0 for the oldest prediction.
- `async`: inference runs in a worker thread; the loop keeps executing the current chunk and
  asks for the next one `execute` steps into it (default H - d - 1, where d is the measured
  inference delay in ticks, so the next chunk lands before this one runs out). When the new
  chunk arrives d ticks after its observation, its first d actions are in the past and skipped.
  A model slower than the period does not stall the actuator.
- `rtc`: real-time chunking (Black et al., 2025) as a merge: like `async`, but with execution
  horizon s in [d, H-d] and the new chunk blended into the one being executed with RTC's soft
  mask (weight 1 on the old chunk for the first d steps, decaying exponentially to 0 at H-s),
  so consecutive chunks join without a jump. d is the measured inference latency in ticks (max
  of the last 8). `Policy.predict` exposes no denoiser, so this is the guidance-free variant:
  the old chunk is blended in after sampling rather than inpainted during sampling.
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np

from vla_edge.errors import RuntimeLoopError

CHUNKING = ("open-loop", "ensemble", "async", "rtc")


class Chunker:
    """Sync base: `wants_observation(tick)`, `add_chunk(chunk, obs_tick, now_tick)`,
    `action(tick)`, `reset()`."""

    asynchronous = False

    def __init__(self, horizon: int, execute: int | None = None) -> None:
        if execute is not None and not 1 <= execute <= horizon:
            raise RuntimeLoopError(
                f"execute must be 1..{horizon} (the chunk length), got {execute}"
            )
        self.horizon = horizon
        self.execute = execute
        self.chunks_used = 0
        self.chunks_stale = 0
        self.start: int | None = None
        self.chunk: np.ndarray | None = None

    def wants_observation(self, tick: int) -> bool:
        if self.chunk is None or self.start is None:
            return True
        return tick - self.start >= (self.execute or self.horizon)

    def add_chunk(self, chunk: np.ndarray, obs_tick: int, now_tick: int) -> bool:
        if now_tick - obs_tick >= self.horizon:
            self.chunks_stale += 1
            return False
        self.start, self.chunk = obs_tick, chunk
        self.chunks_used += 1
        return True

    def action(self, tick: int) -> np.ndarray | None:
        if self.chunk is None or self.start is None:
            return None
        i = tick - self.start
        return self.chunk[i] if 0 <= i < self.horizon else None

    def reset(self) -> None:
        self.start, self.chunk = None, None

    def info(self) -> dict:
        return {"chunks_used": self.chunks_used, "chunks_stale": self.chunks_stale}


class OpenLoop(Chunker):
    name = "open-loop"


class Ensemble(Chunker):
    """ACT temporal ensembling over the last H chunks (one per tick)."""

    name = "ensemble"

    def __init__(self, horizon: int, execute: int | None = None, m: float = 0.01) -> None:
        super().__init__(horizon, execute)
        self.m = m
        self.chunks: deque[tuple[int, np.ndarray]] = deque(maxlen=horizon)

    def wants_observation(self, tick: int) -> bool:
        return True

    def add_chunk(self, chunk: np.ndarray, obs_tick: int, now_tick: int) -> bool:
        self.chunks.append((obs_tick, chunk))
        self.chunks_used += 1
        return True

    def action(self, tick: int) -> np.ndarray | None:
        preds = [c[tick - s] for s, c in self.chunks if 0 <= tick - s < self.horizon]
        if not preds:
            return None
        weights = np.exp(-self.m * np.arange(len(preds), dtype=np.float32))
        return (np.tensordot(weights, np.stack(preds), axes=1) / weights.sum()).astype(np.float32)

    def reset(self) -> None:
        self.chunks.clear()


class AsyncChunks(Chunker):
    """Inference in a worker; the next chunk is asked for while this one executes."""

    name = "async"
    asynchronous = True

    def __init__(self, horizon: int, execute: int | None = None) -> None:
        super().__init__(horizon, execute)
        self.pending = False
        self.delays: deque[int] = deque(maxlen=8)
        self.reset_tick = -1

    # --- measured delay -------------------------------------------------------------------------
    def set_latency(self, seconds: float, period_s: float) -> None:
        """Seed the delay estimate from a measured inference latency (warm-up)."""
        self.delays.append(max(1, math.ceil(seconds / period_s)))

    @property
    def delay(self) -> int:
        return max(self.delays) if self.delays else 1

    def horizon_s(self) -> int:
        """Steps of a chunk executed before the next one is asked for."""
        if self.execute is not None:
            return self.execute
        return max(1, self.horizon - self.delay - 1)

    # --- protocol -------------------------------------------------------------------------------
    def wants_observation(self, tick: int) -> bool:
        if self.pending:
            return False
        return self.chunk is None or tick - self.start >= self.horizon_s()  # type: ignore[operator]

    def requested(self) -> None:
        self.pending = True

    def add_chunk(self, chunk: np.ndarray, obs_tick: int, now_tick: int) -> bool:
        self.pending = False
        if obs_tick < self.reset_tick:  # asked for before a fault: not valid any more
            self.chunks_stale += 1
            return False
        self.delays.append(now_tick - obs_tick)
        if now_tick - obs_tick >= self.horizon:
            self.chunks_stale += 1
            return False
        self._merge(chunk, obs_tick, now_tick)
        self.start, self.chunk = obs_tick, chunk
        self.chunks_used += 1
        return True

    def _merge(self, chunk: np.ndarray, obs_tick: int, now_tick: int) -> None:
        """Plain async switches to the new chunk as is."""

    def discard_pending(self) -> None:
        self.pending = False

    def reset(self, tick: int = 0) -> None:
        super().reset()
        self.reset_tick = tick

    def info(self) -> dict:
        return {**super().info(), "delay_ticks": self.delay, "execute_ticks": self.horizon_s()}


class RealTimeChunks(AsyncChunks):
    name = "rtc"

    def horizon_s(self) -> int:
        if self.execute is not None:
            return self.execute
        d, h = self.delay, self.horizon
        if d > h - d:
            return max(1, h - d - 1)
        return min(max(h // 2, d), h - d)

    def _merge(self, chunk: np.ndarray, obs_tick: int, now_tick: int) -> None:
        """Blend the executing chunk into `chunk` (in place) with RTC's soft mask."""
        if self.chunk is None or self.start is None:
            return
        d, s, h = now_tick - obs_tick, self.horizon_s(), self.horizon
        for i in range(d, h):
            j = obs_tick + i - self.start  # same tick in the old chunk
            if j >= h:
                break
            w = rtc_weight(i, d, s, h)
            if w > 0:
                chunk[i] = w * self.chunk[j] + (1 - w) * chunk[i]


def rtc_weight(i: int, d: int, s: int, h: int) -> float:
    """RTC soft mask: 1 for i < d; c(e^c - 1)/(e - 1) with c = (h-s-i)/(h-s-d+1) below h-s;
    0 from h-s on."""
    if i < d:
        return 1.0
    if i >= h - s:
        return 0.0
    c = (h - s - i) / (h - s - d + 1)
    return c * (math.exp(c) - 1) / (math.e - 1)


def make_chunker(name: str, horizon: int, execute: int | None = None) -> Chunker:
    kinds = {
        "open-loop": OpenLoop,
        "ensemble": Ensemble,
        "async": AsyncChunks,
        "rtc": RealTimeChunks,
    }
    if name not in kinds:
        raise RuntimeLoopError(f"unknown chunking {name!r}; choose one of {', '.join(CHUNKING)}")
    return kinds[name](horizon, execute)
