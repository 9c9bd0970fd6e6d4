"""Start and shutdown of the control loop (a mixin of ControlLoop, kept apart for size).

Start: connect the actuator and cameras, settle the state source (the actuator's, or the
fixed one asked for: never guessed), run `warmup` inferences on live frames (nothing is sent;
the first call of a backend is slow and is not counted), check the chunk shape and the
overrun budget against the warm-up p99 (runtime/preflight.py), seed the async delay
estimate, start the watchdog / worker, then start the clock.

Shutdown, whatever happened: send the final "stop" command (unless one was sent already),
stop the threads, close cameras and actuator.
"""

from __future__ import annotations

import time

import numpy as np

from vla_edge.errors import RuntimeLoopError
from vla_edge.runtime import preflight
from vla_edge.runtime import watchdog as wd
from vla_edge.runtime.chunking import AsyncChunks
from vla_edge.runtime.observe import observe
from vla_edge.runtime.realtime import helper_priority, restore_scheduling, set_realtime
from vla_edge.runtime.timing import now
from vla_edge.runtime.worker import InferenceWorker


class LoopStartup:
    def _start(self) -> None:
        rt = self.config.rt_priority
        self._old_sched = set_realtime(rt)  # first: it may be refused
        self.actuator.connect()
        for cam in self.cameras.values():
            cam.rt_priority = helper_priority(rt, 1)
            cam.connect()
        state = self.actuator.state()
        self.initial_state = None if state is None else np.asarray(state, dtype=np.float32)
        if state is None:
            self._zero_state, self.state_source = preflight.fallback_state(
                self.spec, self.config, self.actuator.describe()
            )
        else:
            self._zero_state, self.state_source = None, "actuator"
        latency, primer = self._warmup()
        self.warmup_latency_ms = latency * 1e3
        cfg = self.config
        self.warmup_check = preflight.check_budget(
            self.warmup_stats, cfg, self.spec.action.chunk, self.chunker.asynchronous
        )
        self.watchdog = wd.Watchdog(
            cfg.overrun_periods * self.period, self.period, self._on_overrun, rt
        )
        self.watchdog.start()
        if isinstance(self.chunker, AsyncChunks):
            self.chunker.set_latency(latency, self.period)
            self.worker = InferenceWorker(self._predict, helper_priority(rt, 2)).start()
        self.t_begin = time.monotonic()
        self.scheduler.start()
        if isinstance(self.chunker, AsyncChunks) and primer is not None:
            chunk, stamp = primer
            self._accept(chunk, 0, 0, stamp, latency * 1e3)

    def _warmup(self) -> tuple[float, tuple[np.ndarray, float] | None]:
        """Run `warmup` inferences; the slowest after the first is the latency estimate."""
        times, primer = [], None
        for _ in range(max(self.config.warmup, 1 if self.chunker.asynchronous else 0)):
            frames = self._wait_frames()
            obs = observe(self.spec, frames, self._state())
            t0 = now()
            try:
                chunk = self._predict(obs)
            except Exception as exc:
                raise RuntimeLoopError(
                    f"the policy failed on a live frame at start-up: {exc}"
                ) from exc
            times.append(now() - t0)
            self._check_chunk_shape(chunk)
            primer = (np.array(chunk, dtype=np.float32), obs.stamp)
        latency = max(times[1:] or times or [0.0])
        self.warmup_stats = preflight.warmup_stats(times)
        return latency, primer

    def _wait_frames(self, timeout_s: float = 5.0) -> dict:
        deadline = time.monotonic() + timeout_s
        while True:
            frames = {name: cam.read() for name, cam in self.cameras.items()}
            if all(f is not None for f in frames.values()):
                return frames
            if time.monotonic() > deadline:
                missing = [n for n, f in frames.items() if f is None]
                raise RuntimeLoopError(f"cameras {missing} gave no frame within {timeout_s:.0f} s")
            time.sleep(0.005)

    def _check_chunk_shape(self, chunk) -> None:
        want = (self.spec.action.chunk, self.spec.action.dim)
        if np.shape(chunk) != want:
            raise RuntimeLoopError(
                f"the policy returned actions of shape {list(np.shape(chunk))}, but its spec "
                f"says chunk x action_dim = {list(want)}; re-export the bundle"
            )

    def _check_sources(self) -> None:
        for name, cam in self.cameras.items():
            if cam.finished:
                self.request_stop(f"camera {name!r} reached the end of its stream")
        if self.actuator.finished:
            self.request_stop(self.actuator.finished)

    def _shutdown(self) -> None:
        self.t_end = time.monotonic()
        errors = []
        if self.watchdog is not None:  # first, so it cannot send a hold after the stop
            self.watchdog.stop()
        # nothing sent (refused at start): the robot was never commanded, leave it as it is
        final_needed = self.actuator.connected and not self._stop_sent and self._seq > 0
        if final_needed and not self._safe_command(final=True):
            errors.append(f"the final stop command failed: {self.last_error}")
        if self.worker is not None:
            self.worker.stop()
        restore_scheduling(getattr(self, "_old_sched", None))
        for cam in self.cameras.values():
            try:
                cam.close()
            except Exception as exc:  # noqa: BLE001 - keep closing the rest
                errors.append(f"closing camera {cam.name!r}: {exc}")
        try:
            self.actuator.close()
        except Exception as exc:  # noqa: BLE001
            errors.append(f"closing the actuator: {exc}")
        self.shutdown_errors = errors
