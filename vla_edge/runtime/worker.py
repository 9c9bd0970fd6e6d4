"""The inference worker of async chunking: `predict` runs in its own thread, one job at a time,
so the control loop keeps writing the current chunk while the next one is computed."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from vla_edge.runtime.observe import Observation
from vla_edge.runtime.realtime import set_thread_realtime
from vla_edge.runtime.timing import WorkerSpan


@dataclass
class Result:
    obs_tick: int
    stamp: float  # capture stamp of the observation
    chunk: np.ndarray | None
    error: BaseException | None
    span: WorkerSpan


class InferenceWorker:
    def __init__(
        self, predict: Callable[[Observation], np.ndarray], rt_priority: int | None = None
    ) -> None:
        self.predict = predict
        self.rt_priority = rt_priority
        self._job: tuple[Observation, int] | None = None
        self._result: Result | None = None
        self._wake = threading.Condition()
        self._stopping = False
        self.busy = False
        self.busy_since: float | None = None
        self._thread = threading.Thread(target=self._run, name="vla-edge-inference", daemon=True)

    def start(self) -> InferenceWorker:
        self._thread.start()
        return self

    def submit(self, obs: Observation, obs_tick: int) -> None:
        with self._wake:
            self._job = (obs, obs_tick)
            self.busy = True
            self._wake.notify()

    def poll(self) -> Result | None:
        """The finished result, once (None while none is ready)."""
        if self._result is None:
            return None
        with self._wake:
            result, self._result = self._result, None
        return result

    def stop(self, timeout_s: float = 2.0) -> None:
        with self._wake:
            self._stopping = True
            self._wake.notify()
        if self._thread.is_alive():
            self._thread.join(timeout=timeout_s)

    def _run(self) -> None:
        set_thread_realtime(self.rt_priority)
        while True:
            with self._wake:
                while self._job is None and not self._stopping:
                    self._wake.wait()
                if self._stopping:
                    return
                (obs, tick), self._job = self._job, None  # type: ignore[misc]
            result = self._infer(obs, tick)
            with self._wake:
                self._result = result
                self.busy = False

    def _infer(self, obs: Observation, tick: int) -> Result:
        start = time.monotonic()
        self.busy_since = start
        chunk, error = None, None
        try:
            chunk = self.predict(obs)
        except Exception as exc:  # noqa: BLE001 - handed to the loop, which faults on it
            error = exc
        span = WorkerSpan(start=start, end=time.monotonic(), obs_tick=tick)
        self.busy_since = None
        return Result(obs_tick=tick, stamp=obs.stamp, chunk=chunk, error=error, span=span)
