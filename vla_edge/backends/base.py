"""The template runner: public activate / infer / deactivate check state and inputs and record
timing; a backend writes only the `*_impl` methods. Every runner is a context manager."""

from __future__ import annotations

import contextlib
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field

import numpy as np

from vla_edge.errors import BackendError, InputError, ShapeError

BACKENDS = ("onnxrt", "torch", "trt")


@dataclass
class TensorMeta:
    """Name, dtype and shape of a runner input/output; None or a string marks a dynamic axis.
    A dtype or shape of None is not checked (a torch module known only by its input names)."""

    name: str
    dtype: np.dtype | None
    shape: tuple[int | str | None, ...] | None


@dataclass
class Timing:
    """Wall-clock time of each `infer` call, in milliseconds (bounded history)."""

    history: int = 10000
    times_ms: list[float] = field(default_factory=list)

    def add(self, ms: float) -> None:
        self.times_ms.append(ms)
        if len(self.times_ms) > self.history:
            del self.times_ms[: len(self.times_ms) - self.history]

    @property
    def last_ms(self) -> float | None:
        return self.times_ms[-1] if self.times_ms else None

    def percentile(self, q: float) -> float:
        if not self.times_ms:
            return float("nan")
        return float(np.percentile(self.times_ms, q))


class Runner(ABC):
    """Run one graph. Subclasses implement `_activate_impl`, `_infer_impl`, `_deactivate_impl`
    and `_input_metadata_impl`."""

    name = "runner"

    def __init__(self) -> None:
        self.is_active = False
        self.timing = Timing()
        self._inputs: list[TensorMeta] | None = None
        self._expected: dict[str, TensorMeta] = {}

    # --- lifecycle ----------------------------------------------------------------------------
    def activate(self) -> Runner:
        if self.is_active:
            raise BackendError(f"{self.name} is already active; call deactivate() first")
        self._activate_impl()  # a backend frees what it took when this raises
        try:
            self._inputs = list(self._input_metadata_impl())
        except BaseException:
            self._deactivate_quietly()
            raise
        self._expected = {m.name: m for m in self._inputs}
        self.is_active = True
        return self

    def _deactivate_quietly(self) -> None:
        """Free an activation that failed half way; the first error is the one reported."""
        with contextlib.suppress(Exception):
            self._deactivate_impl()

    def deactivate(self) -> None:
        if not self.is_active:
            return
        try:
            self._deactivate_impl()
        finally:
            self.is_active = False

    def __enter__(self) -> Runner:
        return self.activate()

    def __exit__(self, *exc: object) -> None:
        self.deactivate()

    # --- inference ----------------------------------------------------------------------------
    def input_metadata(self) -> list[TensorMeta]:
        self._require_active()
        assert self._inputs is not None
        return self._inputs

    @property
    def input_names(self) -> list[str]:
        return [m.name for m in self.input_metadata()]

    def feeds_from(self, arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The graph's inputs out of a larger table of arrays (missing ones are reported by
        `infer`)."""
        return {n: arrays[n] for n in self.input_names if n in arrays}

    def infer(self, feeds: dict[str, np.ndarray], check: bool = True) -> dict[str, np.ndarray]:
        """Run the graph. `check=False` skips the per-input checks, for callers that already
        validated their feeds (Policy does, once per frame)."""
        self._require_active()
        if check:
            self._check_feeds(feeds)
        start = time.perf_counter()
        outputs = self._infer_impl(feeds)
        self.timing.add((time.perf_counter() - start) * 1e3)
        return outputs

    def _require_active(self) -> None:
        if not self.is_active:
            raise BackendError(
                f"{self.name} is not active: use it as a context manager or call activate() first"
            )

    def _check_feeds(self, feeds: dict[str, np.ndarray]) -> None:
        expected = self._expected
        if feeds.keys() != expected.keys():
            missing = sorted(expected.keys() - feeds.keys())
            extra = sorted(feeds.keys() - expected.keys())
            raise InputError(
                f"{self.name}: inputs do not match the graph: missing {missing}, unexpected "
                f"{extra}; the graph takes {sorted(expected)}"
            )
        for name, meta in expected.items():
            arr = feeds[name]
            if not isinstance(arr, np.ndarray):
                raise InputError(
                    f"{self.name}: input {name!r} must be a numpy array, got {type(arr)}"
                )
            if meta.dtype is not None and arr.dtype != meta.dtype:
                raise InputError(
                    f"{self.name}: input {name!r} must have dtype {meta.dtype}, got {arr.dtype}"
                )
            if meta.shape is None:
                continue
            if len(arr.shape) != len(meta.shape) or any(
                isinstance(d, int) and d != a for d, a in zip(meta.shape, arr.shape, strict=True)
            ):
                raise ShapeError(
                    f"{self.name}: input {name!r} must have shape {_fmt(meta.shape)}, got "
                    f"{list(arr.shape)}"
                )

    # --- to implement -------------------------------------------------------------------------
    @abstractmethod
    def _activate_impl(self) -> None: ...

    @abstractmethod
    def _input_metadata_impl(self) -> list[TensorMeta]: ...

    @abstractmethod
    def _infer_impl(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]: ...

    def _deactivate_impl(self) -> None:  # noqa: B027 - optional hook
        pass


def _fmt(shape: tuple) -> str:
    return "[" + ", ".join("B" if not isinstance(d, int) else str(d) for d in shape) + "]"
