"""Bundles for the deploy tests, made from the session's tiny bundle with BundleWriter."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from vla_edge.bundle import BundleWriter, read_manifest


def variant(src: Path, out: Path, edit=None, extra: dict[str, bytes] | None = None) -> Path:
    """A copy of bundle `src` (same graph files) with its spec edited by `edit(spec)` and/or
    extra files added: a new content hash, hashed and written like any bundle."""
    if out.exists():
        return out
    manifest = read_manifest(src)
    if edit:
        edit(manifest["spec"])
    with BundleWriter(out) as writer:
        for rel in manifest["files"]:
            shutil.copyfile(src / rel, writer.path(rel))
        for rel, data in (extra or {}).items():
            writer.path(rel).write_bytes(data)
        manifest.pop("files")
        manifest.pop("content_hash")
        writer.finish(manifest)
    return out


def wrong_camera_size(spec: dict) -> None:
    """Verifies fine (every hash matches) but its spec says 48x48 while its graph takes 64x64:
    `predict --example` fails on the robot, so the health check must fail."""
    spec["cameras"][0]["height"] = spec["cameras"][0]["width"] = 48


def parse_json(stdout: str):
    return json.loads(stdout)


def hash_of(bundle: Path) -> str:
    return read_manifest(Path(bundle))["content_hash"]
