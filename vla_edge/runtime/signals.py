"""Clean stop on SIGINT / SIGTERM: the first signal asks the loop to stop after the current
cycle (it then sends the final stop command); a second SIGINT raises KeyboardInterrupt, and the
loop still sends the stop command on its way out."""

from __future__ import annotations

import contextlib
import signal
import threading


@contextlib.contextmanager
def stop_on_signals(loop):
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be installed from the main thread
        return
    seen: list[int] = []

    def handler(signum, frame):
        name = signal.Signals(signum).name
        if seen and signum == signal.SIGINT:
            raise KeyboardInterrupt
        seen.append(signum)
        loop.request_stop(f"{name} received")

    old = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, prev in old.items():
            signal.signal(sig, prev)
