"""What `vla-edge deploy` prints: one progress bar per robot while copying, then a line per
robot (and the refusal reasons); `status` as a table of versions."""

from __future__ import annotations

import threading
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)


class ProgressBars:
    """Events from the deploy threads -> a rich progress bar per host (bytes copied)."""

    def __init__(self, console: Console) -> None:
        self.progress = Progress(
            TextColumn("{task.fields[host]}"),
            TextColumn("{task.fields[step]:<8}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=False,
        )
        self._tasks: dict[str, Any] = {}
        self._lock = threading.Lock()

    def __call__(self, host: str, event: str, data: dict) -> None:
        with self._lock:
            if host not in self._tasks:
                self._tasks[host] = self.progress.add_task("", total=None, host=host, step="")
            task = self._tasks[host]
        if event == "step":
            self.progress.update(task, step=data["name"])
        elif event == "total":
            self.progress.update(task, total=max(data["bytes"], 1), completed=0)
        elif event == "sent":
            self.progress.advance(task, data["bytes"])

    def __enter__(self) -> ProgressBars:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()


def _mb(n: int | None) -> str:
    return f"{(n or 0) / 2**20:.1f} MB"


def result_lines(result: dict[str, Any]) -> list[str]:
    mark = {"deployed": "OK", "unchanged": "OK", "rolled-back": "ROLLED BACK", "refused": "REFUSED"}
    head = f"{mark.get(result['outcome'], 'FAILED')} {result['host']}: {result['message']}"
    lines = [head]
    t = result.get("target") or {}
    if t:
        lines.append(
            f"  target: {t.get('arch')} {t.get('os')}, Python {t.get('python')}, TensorRT "
            f"{t.get('tensorrt') or 'none'}, L4T {t.get('l4t') or 'none'} -> profile "
            f"{t.get('profile')}; {t.get('disk_free_mb')} MB disk free"
        )
    c = result.get("copy") or {}
    if c:
        lines.append(
            f"  copy: {_mb(c.get('sent'))} sent, {_mb(c.get('resumed'))} resumed, "
            f"{_mb(c.get('reused'))} reused from other versions, {_mb(c.get('total'))} in all"
        )
    if result.get("runtime"):
        r = result["runtime"]
        lines.append(f"  runtime installed: {r.get('version')} ({r.get('id')})")
    for check in (result.get("health") or {}).get("checks", []):
        ok = "ok" if check["ok"] else f"FAILED: {check.get('error')}"
        extra = f" ({check['latency_ms']} ms)" if check.get("latency_ms") is not None else ""
        lines.append(f"  health: {check['name']}: {ok}{extra}")
    lines += [f"  refused: {r}" for r in result.get("reasons", [])]
    lines += [f"  note: {n}" for n in result.get("notes", [])]
    if result.get("pruned"):
        lines.append(f"  pruned: {', '.join(p[:12] for p in result['pruned'])}")
    return lines


def status_lines(st: dict[str, Any]) -> list[str]:
    if not st["ok"]:
        return [f"FAILED {st['error']}"]
    lines = [f"{st['host']}: {st['dir']}"] + [f"  note: {n}" for n in st.get("notes", [])]
    if not st["versions"]:
        lines.append("  no versions deployed")
    for v in st["versions"]:
        mark = "*" if v["hash"] == st["current"] else " "
        engines = f", {v['engines']} engine(s)" if v.get("engines") else ""
        lines.append(
            f"  {mark} {v['hash'][:12]}  {v.get('name')}  created {v.get('created_at')}  "
            f"{_mb(v.get('size_bytes'))}{engines}"
        )
    rt = st.get("runtime") or {}
    info = rt.get("info") or {}
    lines.append(f"  runtime: {info.get('version', 'none')} ({rt.get('id', '-')})")
    svc = st.get("service") or {}
    lines.append(
        f"  service {svc.get('name')}: {svc.get('state')}"
        + (f" ({svc.get('SubState')}, {svc.get('UnitFileState')})" if "SubState" in svc else "")
    )
    loop = st.get("last_loop")
    if loop:
        faults = loop.get("faults")
        lines.append(
            f"  last loop: cycles {loop.get('cycles')} at {loop.get('achieved_rate_hz')} Hz, "
            f"deadline misses {loop.get('deadline_misses')}, faults "
            f"{len(faults) if isinstance(faults, list | dict) else faults}, "
            f"stopped: {loop.get('stop_reason')}"
        )
    else:
        lines.append("  last loop: no summary yet (the service writes DIR/profile/summary.json)")
    return lines
