"""The Camera base class.

A camera is connected once, read every control cycle, and closed. A threaded camera captures in
its own thread and keeps only the newest frame, stamped with time.monotonic() right after the
driver hands it over, so `read()` never blocks the loop and never returns a queued old frame.
A synchronous camera (the simulator's) captures inside `read()`.

Subclasses implement `_open()`, `_grab() -> np.ndarray | None` (an RGB uint8 HxWx3 image, None
at the end of a finite stream) and `_release()`. Setting `fps` paces `_grab` to that rate
(files, folders); live devices pace themselves. `_grab` may return `(image, stamp)` when it
knows the capture time better than "when _grab returned" (OpenCV: right after `grab()`).
"""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np

from vla_edge.errors import RuntimeLoopError
from vla_edge.runtime.realtime import set_thread_realtime


@dataclass(frozen=True)
class Frame:
    image: np.ndarray  # uint8 [H, W, 3], RGB
    t_capture: float  # time.monotonic() at capture
    seq: int  # frame number since connect


class Camera(ABC):
    threaded = True
    kind = "camera"

    def __init__(self, name: str = "camera", fps: float | None = None) -> None:
        if fps is not None and fps <= 0:
            raise RuntimeLoopError(f"camera {name!r} fps must be > 0, got {fps}")
        self.name = name
        self.fps = fps
        self.error: BaseException | None = None  # why capture stopped, if it did
        self.finished = False  # a finite stream reached its end
        self.frames_captured = 0
        self.rt_priority: int | None = None  # SCHED_FIFO of the capture thread (set by the loop)
        self._latest: Frame | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # --- public ---------------------------------------------------------------------------------
    def connect(self, timeout_s: float = 10.0) -> Camera:
        """Open the source; a threaded camera starts capturing and waits for its first frame."""
        self._open()
        if self.threaded:
            self._stop.clear()
            self._thread = threading.Thread(
                target=self._capture_loop, name=f"camera-{self.name}", daemon=True
            )
            self._thread.start()
            self._wait_first(timeout_s)
        return self

    def read(self) -> Frame | None:
        """The newest frame (None before the first one)."""
        if not self.threaded:
            self._capture_once()
        return self._latest

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=2.0)
        self._thread = None
        self._release()

    def describe(self) -> str:
        return self.kind

    def __enter__(self) -> Camera:
        return self.connect()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- capture --------------------------------------------------------------------------------
    def _capture_once(self) -> bool:
        got = self._grab()
        stamp = time.monotonic()
        if got is None:
            self.finished = True
            return False
        image, stamp = got if isinstance(got, tuple) else (got, stamp)
        with self._lock:
            self.frames_captured += 1
            self._latest = Frame(image=image, t_capture=stamp, seq=self.frames_captured)
        return True

    def _capture_loop(self) -> None:
        set_thread_realtime(self.rt_priority)
        next_due = time.monotonic()
        try:
            while not self._stop.is_set():
                if not self._capture_once():
                    return
                if self.fps:
                    next_due += 1.0 / self.fps
                    delay = next_due - time.monotonic()
                    if delay < -1.0:  # far behind (machine stalled): restart pacing
                        next_due = time.monotonic()
                    elif delay > 0:
                        self._stop.wait(delay)
        except Exception as exc:  # noqa: BLE001 - kept and reported; the loop sees a stale frame
            self.error = exc

    def _wait_first(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while self._latest is None and time.monotonic() < deadline:
            if self.error is not None or self.finished:
                break
            time.sleep(0.002)
        if self._latest is None:
            self.close()
            why = (
                f": {self.error}" if self.error else (" (stream is empty)" if self.finished else "")
            )
            raise RuntimeLoopError(
                f"camera {self.name!r} ({self.describe()}) gave no frame within {timeout_s:.0f} s"
                f"{why}; check the source exists and is not in use by another program"
            )

    # --- subclass hooks -------------------------------------------------------------------------
    def _open(self) -> None:  # noqa: B027 - optional hook
        pass

    @abstractmethod
    def _grab(self) -> np.ndarray | tuple[np.ndarray, float] | None: ...

    def _release(self) -> None:  # noqa: B027 - optional hook
        pass
