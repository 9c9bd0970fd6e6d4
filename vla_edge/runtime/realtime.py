"""Real-time scheduling of the loop's threads (Linux SCHED_FIFO), for `--rt-priority N`.

The loop thread runs at N. Its helper threads run under SCHED_FIFO too (the watchdog at N,
camera capture at N-1, the async inference worker at N-2): in CPython a thread that holds the
GIL and is preempted by an ordinary process blocks the loop thread until the kernel runs it
again (priority inversion through the GIL), so a real-time loop needs real-time helpers. None
of them spins: they sleep or block in the driver between frames, commands and inferences.
"""

from __future__ import annotations

import contextlib
import os

from vla_edge.errors import RuntimeLoopError


def set_realtime(priority: int | None):
    """Run the calling thread under SCHED_FIFO at `priority` (Linux); returns what to restore.
    A real-time loop thread is not preempted by ordinary processes, which is what keeps start
    jitter low on a loaded machine; the loop sleeps most of each period, so it takes little."""
    if priority is None:
        return None
    if not hasattr(os, "sched_setscheduler"):
        raise RuntimeLoopError("--rt-priority needs Linux (os.sched_setscheduler)")
    old = (os.sched_getscheduler(0), os.sched_getparam(0))
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(priority))
    except PermissionError as exc:
        raise RuntimeLoopError(
            f"cannot run the loop at real-time priority {priority}: {exc}; run as root, grant "
            "CAP_SYS_NICE (`sudo setcap cap_sys_nice+ep $(readlink -f $(which python3))`), "
            "raise `ulimit -r`, or drop --rt-priority"
        ) from exc
    return old


def restore_scheduling(old) -> None:
    if old is not None:
        with contextlib.suppress(OSError):
            os.sched_setscheduler(0, old[0], old[1])


def helper_priority(priority: int | None, below: int) -> int | None:
    return None if priority is None else max(1, priority - below)


def set_thread_realtime(priority: int | None) -> None:
    """Best effort, from inside a helper thread (the loop already proved the permission)."""
    if priority is not None and hasattr(os, "sched_setscheduler"):
        with contextlib.suppress(OSError):
            os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(priority))
