"""The live status line shown while `vla-edge run` runs (rich; refreshed 4x a second by rich's
own thread, which only reads the loop's counters, so the loop pays nothing for it)."""

from __future__ import annotations

import contextlib
import time

import numpy as np

from vla_edge.runtime.timing import FRAME_STAMP, INFER_MS, STAGE_COL, START


class StatusLine:
    def __init__(self, loop) -> None:
        self.loop = loop

    def text(self) -> str:
        loop = self.loop
        log, t0 = loop.log, loop.scheduler.t0
        n = log.cycles
        if not n or t0 is None:
            return "warming up..."
        row = log.rows[(n - 1) % log.capacity]
        cycle = (row[STAGE_COL["actuate"]] - row[START]) * 1e3
        e2e = (row[STAGE_COL["actuate"]] - row[FRAME_STAMP]) * 1e3
        rate = n / max(time.monotonic() - t0, 1e-9)
        faults = sum(loop.faults.values())
        return (
            f"cycle {n}  {rate:6.1f} Hz (asked {loop.config.rate_hz:g})  "
            f"cycle {_ms(cycle)}  inference {_ms(row[INFER_MS])}  end-to-end {_ms(e2e)}  "
            f"misses {loop.misses}  faults {faults}"
            + (f" (last: {loop.last_error})" if faults and loop.last_error else "")
        )

    def __rich__(self):
        from rich.text import Text

        return Text(self.text(), style="bold" if not self.loop.faults else "yellow")


def _ms(value: float) -> str:
    return "  n/a" if not np.isfinite(value) else f"{value:6.2f} ms"


@contextlib.contextmanager
def live_status(loop, console, enabled: bool = True):
    """Show the status line on `console` while the block runs (only on a terminal)."""
    if not enabled or not console.is_terminal:
        yield
        return
    from rich.live import Live

    with Live(StatusLine(loop), console=console, refresh_per_second=4, transient=True):
        yield
