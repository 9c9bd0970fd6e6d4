"""Content-addressed, resumable copies onto the robot.

A bundle goes into DIR/bundles/.partial-<hash>/ file by file: the agent says how many bytes of
each file are already there (an interrupted copy), files that an older version already holds
(same sha256) are hard-linked there instead of sent, and the rest is streamed from that offset.
Nothing is trusted until the robot has verified every sha256 (verify.py) and the staging folder
is renamed to bundles/<hash>/ in one step.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from vla_edge.bundle import MANIFEST, Bundle, sha256_file
from vla_edge.deploy.ssh import last_line
from vla_edge.deploy.target import Target, parse
from vla_edge.errors import DeployError

CHUNK = 256 * 1024


@dataclass(frozen=True)
class Item:
    rel: str
    path: Path
    sha256: str
    size: int


@dataclass
class CopyStats:
    sent: int = 0
    resumed: int = 0  # bytes already on the robot from an interrupted copy
    reused: int = 0  # bytes hard-linked from versions already on the robot
    total: int = 0


def bundle_items(bundle: Bundle) -> list[Item]:
    """Every file of the bundle, manifest.json last (the copy is complete when it arrives)."""
    items = [
        Item(rel, bundle.path / rel, meta["sha256"], meta["size"])
        for rel, meta in sorted(bundle.manifest["files"].items())
    ]
    manifest = bundle.path / MANIFEST
    return [*items, Item(MANIFEST, manifest, sha256_file(manifest), manifest.stat().st_size)]


def offsets(target: Target, root: str, items: list[Item], reuse: bool) -> dict:
    """{"offsets": {rel: bytes already there}, "reused_bytes": n} for a copy into `root`."""
    files = json.dumps([[i.rel, i.sha256, i.size] for i in items])
    return target.call("offsets", root, files, f"{target.dir}/bundles" if reuse else "-")


def remote_sha256(target: Target, root: str, items: list[Item]) -> list[str]:
    """Items whose copy under `root` does not have the sha256 it should (to send again)."""
    got = target.call("sha256", root, json.dumps([i.rel for i in items]))["sha256"]
    return [i.rel for i in items if got.get(i.rel) != i.sha256]


def upload(
    target: Target,
    remote_root: str,
    items: list[Item],
    offsets: dict[str, int],
    progress: Callable[[int], None] | None = None,
    rate_limit: float | None = None,
) -> int:
    """Send each item from its offset; returns the bytes sent. `rate_limit` in bytes/s."""
    sent, started = 0, time.monotonic()
    for item in items:
        offset = int(offsets.get(item.rel, 0))
        if offset >= item.size and item.size > 0:
            continue
        pace = _pace(rate_limit, started, sent)
        sent += _send(target, f"{remote_root}/{item.rel}", item, offset, progress, pace)
    return sent


def _pace(rate_limit, started: float, sent_before: int):
    """A callable that sleeps so that the average rate stays under `rate_limit`."""
    if not rate_limit:
        return lambda n: None

    def wait(n_in_file: int) -> None:
        ahead = (sent_before + n_in_file) / rate_limit - (time.monotonic() - started)
        if ahead > 0:
            time.sleep(ahead)

    return wait


def _send(target: Target, remote: str, item: Item, offset: int, progress, pace) -> int:
    proc = target.conn.popen(
        target.agent_argv("append", remote, offset),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    n = 0
    try:
        with open(item.path, "rb") as fh:
            fh.seek(offset)
            while chunk := fh.read(CHUNK):
                proc.stdin.write(chunk)
                n += len(chunk)
                if progress:
                    progress(len(chunk))
                pace(n)
    except BrokenPipeError:
        pass
    stdout, stderr = proc.communicate(timeout=600)
    if proc.returncode != 0:  # the agent's own message when it gave one, else ssh's
        parse(
            subprocess.CompletedProcess([], proc.returncode, stdout, stderr), f"copying {item.rel}"
        )
        raise DeployError(f"{target.host}: copying {item.rel} failed: {last_line(stderr)}")
    return n
