"""The camera-to-actuator control loop.

Each tick of the RateScheduler runs one cycle, stamping the end of each stage in the CycleLog:

    capture      newest frame of every camera (never waits for one); a stale frame is a fault
    preprocess   resize to the spec, read the robot state          (only when a chunk is asked)
    inference    policy.predict in the loop (open-loop, ensemble)  or hand-off to the worker
                 (async, rtc); the watchdog fires if it overruns
    postprocess  check the chunk is finite, pick this tick's action, safety filter
    actuate      one command to the actuator

Any fault sends the safe command of `--on-fault` (hold / zero / stop) instead of an action and
drops the current plan; hold and zero resume once the fault clears, stop ends the run. Every
run, however it ends (duration, Ctrl-C, SIGTERM, an exception), ends with a "stop" command.
"""

from __future__ import annotations

import threading
from collections import Counter

import numpy as np

from vla_edge.errors import ActionError, RuntimeLoopError
from vla_edge.policy.spec import DEFAULT_ACTION_KIND
from vla_edge.runtime import watchdog as wd
from vla_edge.runtime.actuators.base import Actuator, Command
from vla_edge.runtime.cameras.base import Camera
from vla_edge.runtime.chunking import AsyncChunks, make_chunker
from vla_edge.runtime.config import LoopConfig
from vla_edge.runtime.observe import Observation, observe
from vla_edge.runtime.safety import SafetyFilter, check_compatible, safe_values
from vla_edge.runtime.scheduler import RateScheduler, Tick
from vla_edge.runtime.startup import LoopStartup
from vla_edge.runtime.timing import FRAME_STAMP, INFER_MS, STAGE_COL, CycleLog, now
from vla_edge.runtime.worker import InferenceWorker

CAP, PRE, INF, POST, ACT = (STAGE_COL[s] for s in STAGE_COL)


class ControlLoop(LoopStartup):
    """`ControlLoop(policy, cameras, actuator, config).run()` -> summary dict."""

    def __init__(self, policy, cameras: dict[str, Camera], actuator: Actuator, config: LoopConfig):
        self.policy, self.spec, self.config = policy, policy.spec, config
        self.cameras, self.actuator = _match_cameras(self.spec, cameras), actuator
        check_compatible(self.spec.action, actuator.action_space, actuator.describe())
        self.action_kinds, self.kind_source = resolve_kinds(self.spec.action, config.action_kind)
        self._delta = [k == "delta" for k in self.action_kinds]
        actuator.names = actuator.names or list(self.spec.action.names)
        self.safety = SafetyFilter(self.spec.action, actuator.action_space, config.max_step)
        self.chunker = make_chunker(
            config.chunking, self.spec.action.chunk, default_execute(self.spec, config)
        )
        if config.chunking == "ensemble":
            m = config.ensemble_m
            self.chunker.m = m if m is not None else (self.spec.action.ensemble_coeff or 0.01)
        self.log = CycleLog(capacity=config.log_capacity)
        self.scheduler = RateScheduler(config.rate_hz, spin_s=config.spin_ms / 1e3)
        self.period = config.period_s
        self.faults: Counter[str] = Counter()
        self.sent: Counter[str] = Counter()
        self.misses = 0
        self.stop_reason: str | None = None
        self.last_error: str | None = None
        self.last_sent: np.ndarray | None = None
        self.initial_state: np.ndarray | None = None
        self._seq = 0
        self._stop_sent = False
        self._act_fail_streak = 0
        self._act_lock = threading.Lock()
        self._meta: dict[int, tuple[float, float]] = {}  # obs tick -> (frame stamp, infer ms)
        self.worker: InferenceWorker | None = None
        self.watchdog: wd.Watchdog | None = None
        self.t_begin = self.t_end = 0.0

    # --- control ------------------------------------------------------------------------------
    def request_stop(self, reason: str) -> None:
        if self.stop_reason is None:
            self.stop_reason = reason

    def run(self) -> dict:
        """Connect, warm up, loop until stopped, send the final stop command, close."""
        from vla_edge.runtime.report import build_summary

        try:
            self._start()
            self._loop()
        finally:
            self._shutdown()
        return build_summary(self)

    def _loop(self) -> None:
        cfg, sched = self.config, self.scheduler
        while self.stop_reason is None:
            tick = sched.wait()
            self._cycle(tick)
            if cfg.max_cycles is not None and self.log.cycles >= cfg.max_cycles:
                self.request_stop(f"{cfg.max_cycles} cycles done")
            elif cfg.duration_s is not None and tick.start - sched.t0 >= cfg.duration_s:
                self.request_stop(f"duration {cfg.duration_s:g} s reached")
            self._check_sources()

    # --- one cycle ----------------------------------------------------------------------------
    def _cycle(self, tick: Tick) -> None:
        row = self.log.begin(tick.index, tick.deadline, tick.start)
        frames = {name: cam.read() for name, cam in self.cameras.items()}
        row[CAP] = now()
        fault, action = self._stale(frames, row[CAP]), None
        if not fault:
            step = self._step_async if self.chunker.asynchronous else self._step_sync
            fault, action = step(tick.index, frames, row)
        if fault:
            row[POST] = now()
            self._fault(fault, tick.index)
        else:
            action = self.safety.limit_rate(action, self.last_sent)
            row[POST] = now()
            if not self._send("action", action):
                self._fault(wd.ACTUATOR_FAILED, tick.index)
                fault = wd.ACTUATOR_FAILED
        row[ACT] = now()
        if row[ACT] > tick.deadline + self.period:
            self.misses += 1
        self.log.end(row, fault)

    def _stale(self, frames: dict, t: float) -> int:
        for name, frame in frames.items():
            if frame is None or t - frame.t_capture > self.config.stale_s:
                cam = self.cameras[name]
                why = f": {cam.error}" if cam.error else ""
                self.last_error = f"camera {name!r} frame is stale{why}"
                return wd.CAMERA_STALE
        return 0

    def _step_sync(self, tick: int, frames: dict, row: list) -> tuple[int, np.ndarray | None]:
        if self.chunker.wants_observation(tick):
            obs = observe(self.spec, frames, self._state())
            row[PRE] = now()
            self.watchdog.begin()
            try:
                chunk = self._predict(obs)
            except Exception as exc:  # noqa: BLE001 - a policy failure is a fault, not a crash
                self.watchdog.end()
                return self._policy_error(exc), None
            overran = self.watchdog.end()
            row[INF] = now()
            if overran:
                self.last_error = f"inference overran {self.config.overrun_periods} periods"
                return wd.OVERRUN, None
            fault = self._accept(chunk, tick, tick, obs.stamp, (row[INF] - row[PRE]) * 1e3)
            if fault:
                return fault, None
        return self._planned(tick, row)

    def _step_async(self, tick: int, frames: dict, row: list) -> tuple[int, np.ndarray | None]:
        result = self.worker.poll()
        if result is not None:
            self.log.add_worker_span(result.span)
            self.chunker.discard_pending()
            if result.error is not None:
                return self._policy_error(result.error), None
            ms = (result.span.end - result.span.start) * 1e3
            fault = self._accept(result.chunk, result.obs_tick, tick, result.stamp, ms)
            if fault:
                return fault, None
        if self.chunker.wants_observation(tick):
            obs = observe(self.spec, frames, self._state())
            row[PRE] = now()
            self.worker.submit(obs, tick)
            self.chunker.requested()
        return self._planned(tick, row)

    def _planned(self, tick: int, row: list) -> tuple[int, np.ndarray | None]:
        action = self.chunker.action(tick)
        if action is None:
            self.last_error = "no planned action for this tick (inference too slow for the chunk)"
            return wd.STARVED, None
        stamp, infer_ms = self._meta.get(self._source_tick(tick), (np.nan, np.nan))
        row[FRAME_STAMP], row[INFER_MS] = stamp, infer_ms
        return 0, action

    def _source_tick(self, tick: int) -> int:
        start = getattr(self.chunker, "start", None)
        if self.config.chunking == "ensemble" or start is None:
            return max(self._meta) if self._meta else -1
        return start

    def _accept(self, chunk, obs_tick: int, tick: int, stamp: float, infer_ms: float) -> int:
        """Check a predicted chunk and hand it to the chunker; a fault code when it is bad."""
        h, a = self.spec.action.chunk, self.spec.action.dim
        # a copy: a runner may hand out a view of an output buffer it reuses on the next call
        arr = np.array(chunk, dtype=np.float32) if chunk is not None else None
        if arr is None or arr.shape != (h, a):
            got = None if chunk is None else np.shape(chunk)
            return self._policy_error(
                RuntimeLoopError(f"policy returned shape {got}, not {(h, a)}")
            )
        arr = self.safety.screen(arr)
        if arr is None:
            self.last_error = "policy returned NaN/inf"
            return wd.NON_FINITE
        if self.chunker.add_chunk(arr, obs_tick, tick):
            self._meta[obs_tick] = (stamp, infer_ms)
            if len(self._meta) > 4 * h + 8:
                for key in sorted(self._meta)[: len(self._meta) - 2 * h - 4]:
                    del self._meta[key]
        return 0

    def _policy_error(self, exc: BaseException) -> int:
        if isinstance(exc, ActionError):  # Policy refused its own NaN/inf chunk
            self.last_error = f"policy returned NaN/inf: {exc}"
            return wd.NON_FINITE
        self.last_error = f"policy failed: {type(exc).__name__}: {exc}"
        return wd.POLICY_ERROR

    def _predict(self, obs: Observation) -> np.ndarray:
        return self.policy.predict(obs.frames, self.config.instruction, obs.state)

    def _state(self) -> np.ndarray | None:
        if not self.spec.state_dim:
            return None
        state = self.actuator.state()
        return self._zero_state if state is None else state

    # --- commands -----------------------------------------------------------------------------
    def _send(self, kind: str, values: np.ndarray) -> bool:
        """Write one command; False (and the error kept) when the actuator fails."""
        with self._act_lock:
            self._seq += 1
            try:
                self.actuator.write(Command(self._seq, now(), kind, values))
            except Exception as exc:  # noqa: BLE001 - any actuator failure is a fault
                self.last_error = f"actuator failed: {type(exc).__name__}: {exc}"
                self._act_fail_streak += 1
                return False
            self._act_fail_streak = 0
            self.sent[kind] += 1
            if kind != "stop":
                self.last_sent = values
            return True

    def _safe_command(self, final: bool = False) -> bool:
        on_fault = self.config.on_fault
        kind = "stop" if final or on_fault == "stop" else on_fault
        values = safe_values(on_fault, self.last_sent, self.safety, self.initial_state, self._delta)
        ok = self._send(kind, values)
        self._stop_sent = self._stop_sent or (ok and kind == "stop")
        return ok

    def _fault(self, code: int, tick: int) -> None:
        self.faults[wd.FAULTS[code]] += 1
        if code != wd.STARVED:
            self.chunker.reset(tick) if isinstance(
                self.chunker, AsyncChunks
            ) else self.chunker.reset()
        self._safe_command()
        if self.config.on_fault == "stop":
            self.request_stop(f"fault ({wd.FAULTS[code]}): {self.last_error}")
        elif self._act_fail_streak >= self.config.max_actuator_failures:
            self.request_stop(
                f"actuator failed {self._act_fail_streak} times in a row: {self.last_error}"
            )

    def _on_overrun(self) -> None:
        """Called by the watchdog thread while a synchronous predict() overruns."""
        self._safe_command()


def resolve_kinds(action, override: str | list[str] | None) -> tuple[list[str], str]:
    """The kind of each action dimension and where it came from: `override` (`--action-kind`),
    else the spec, else the documented default (spec.DEFAULT_ACTION_KIND)."""
    from dataclasses import replace

    from vla_edge.errors import SpecError

    if override is not None:
        try:
            return replace(action, kind=override).kinds, "--action-kind"
        except SpecError as exc:
            raise RuntimeLoopError(f"--action-kind: {exc}") from None
    if action.kind is not None:
        return action.kinds, "spec"
    return action.kinds, f"default ({DEFAULT_ACTION_KIND}: the spec declares no action kind)"


def default_execute(spec, config: LoopConfig) -> int | None:
    """Actions per chunk: as asked, else the policy's n_action_steps for open-loop (a LeRobot
    policy queues that many of each chunk), else the strategy's own default."""
    if config.execute is not None or config.chunking != "open-loop":
        return config.execute
    return spec.action.n_action_steps


def _match_cameras(spec, cameras: dict[str, Camera]) -> dict[str, Camera]:
    names = spec.camera_names
    if sorted(cameras) != sorted(names):
        raise RuntimeLoopError(
            f"the policy needs cameras {names}, got {sorted(cameras)}; "
            "name each source with --camera NAME=SOURCE"
        )
    return {name: cameras[name] for name in names}
