"""Safety filter between the policy and the actuator.

- `check_compatible` refuses to start when the bundle's action space does not match the
  actuator's (dimension, names in order, units).
- `SafetyFilter` clamps every action to the limits (the bundle's, intersected with the
  actuator's when it declares its own; the loop clamps each chunk once as it arrives), and
  limits the change per step to `max_step` times the range of each dimension when asked.
  Non-finite values never reach it: the loop treats them as a fault first.
- `safe_values` gives the values of a hold / zero / stop command: no motion, which is 0 for
  a delta (velocity) dimension and the last commanded value for an absolute one.
"""

from __future__ import annotations

import numpy as np

from vla_edge.errors import RuntimeLoopError
from vla_edge.policy.spec import ActionSpace
from vla_edge.runtime.actuators.base import ActuatorSpace

ON_FAULT = ("hold", "zero", "stop")


def check_compatible(action: ActionSpace, target: ActuatorSpace, actuator: str) -> None:
    """Raise RuntimeLoopError when the policy's action space cannot drive this actuator."""
    fix = "export the policy for this robot, or point --actuator at the robot it was trained for"
    if target.dim is not None and target.dim != action.dim:
        raise RuntimeLoopError(
            f"action space mismatch: the policy outputs {action.dim} values {action.names} but "
            f"actuator {actuator} takes {target.dim}"
            + (f" {target.names}" if target.names else "")
            + f"; {fix}"
        )
    if target.names is not None and list(target.names) != list(action.names):
        raise RuntimeLoopError(
            f"action space mismatch: the policy's actions are {action.names} but actuator "
            f"{actuator} expects {list(target.names)} (same order); {fix}"
        )
    if target.units is not None:
        bad = [
            f"{n}: policy {u!r} vs actuator {v!r}"
            for n, u, v in zip(action.names, action.units, target.units, strict=True)
            if u != v
        ]
        if bad:
            raise RuntimeLoopError(f"action units differ ({'; '.join(bad)}); {fix}")


class SafetyFilter:
    """Clamp to limits and rate-limit. `max_step` is a fraction of each dimension's range."""

    def __init__(
        self,
        action: ActionSpace,
        target: ActuatorSpace | None = None,
        max_step: float | None = None,
    ) -> None:
        low = np.asarray(action.low, dtype=np.float32)
        high = np.asarray(action.high, dtype=np.float32)
        if target is not None and target.low is not None:
            low = np.maximum(low, np.asarray(target.low, dtype=np.float32))
        if target is not None and target.high is not None:
            high = np.minimum(high, np.asarray(target.high, dtype=np.float32))
        if np.any(low > high):
            raise RuntimeLoopError(
                f"the policy's limits [{action.low}, {action.high}] and the actuator's "
                f"[{target.low}, {target.high}] do not overlap"  # type: ignore[union-attr]
            )
        if max_step is not None and not 0 < max_step <= 1:
            raise RuntimeLoopError(f"max_step must be in (0, 1] of the range, got {max_step}")
        self.low, self.high = low, high
        self.max_delta = None if max_step is None else (high - low) * np.float32(max_step)
        self._lo_tiled: list[float] = []
        self._hi_tiled: list[float] = []
        self.clamped = 0  # planned actions changed by the limits
        self.rate_limited = 0  # actions changed by the rate limit

    def screen(self, chunk: np.ndarray) -> np.ndarray | None:
        """A fresh [H, A] chunk clamped to the limits, or None when it holds NaN or inf.

        The loop screens each chunk once as it arrives (its strategies then only index,
        average or blend clamped chunks, which stays within the limits). The usual case, every
        value finite and in range, is decided in plain Python over one `tolist()`: on a busy
        machine each numpy call right after the inference costs tens of microseconds."""
        flat = chunk.ravel().tolist()
        lo, hi = self._tiled(len(flat))
        if all(a <= v <= b for v, a, b in zip(flat, lo, hi, strict=True)):  # NaN: False
            return chunk
        if not np.isfinite(chunk).all():
            return None
        out = np.minimum(np.maximum(chunk, self.low), self.high)
        self.clamped += int((out != chunk).any(axis=-1).sum())
        return out

    def _tiled(self, n: int) -> tuple[list[float], list[float]]:
        if len(self._lo_tiled) != n:
            reps = n // self.low.size
            self._lo_tiled = np.tile(self.low, reps).tolist()
            self._hi_tiled = np.tile(self.high, reps).tolist()
        return self._lo_tiled, self._hi_tiled

    def limit_rate(self, action: np.ndarray, last: np.ndarray | None) -> np.ndarray:
        """Bound the change from the last command sent (a no-op without max_step)."""
        if self.max_delta is None or last is None:
            return action
        out = np.minimum(np.maximum(action, last - self.max_delta), last + self.max_delta)
        if (out != action).any():
            self.rate_limited += 1
        return np.minimum(np.maximum(out, self.low), self.high)

    def __call__(self, action: np.ndarray, last: np.ndarray | None) -> np.ndarray:
        """Clamp and rate-limit one finite action."""
        out = self.screen(np.asarray(action, np.float32)[None])
        if out is None:
            raise ValueError(f"action {action} is not finite")
        return self.limit_rate(out[0], last)

    def zero(self) -> np.ndarray:
        return np.clip(np.zeros_like(self.low), self.low, self.high)


def safe_values(
    on_fault: str,
    last: np.ndarray | None,
    filt: SafetyFilter,
    initial: np.ndarray | None = None,
    delta: list[bool] | None = None,
) -> np.ndarray:
    """Values of a safe command. "zero": zeros (clipped into the limits) in every dimension.
    "hold" and "stop": no motion, which depends on what each dimension means (`delta`, one flag
    per dimension; None: all absolute): a delta dimension gets 0 (repeating the last delta
    would keep the arm moving), an absolute one the last value sent (or the robot's initial
    state of the same size, or zeros, before anything was sent)."""
    zero = filt.zero()
    if on_fault == "zero":
        return zero
    if last is not None:
        position = last.copy()
    elif initial is not None and np.size(initial) == zero.size:
        position = np.clip(np.asarray(initial, dtype=np.float32).ravel(), filt.low, filt.high)
    else:
        position = zero.copy()
    if delta is None:
        return position
    return np.where(np.asarray(delta, dtype=bool), zero, position).astype(np.float32)
