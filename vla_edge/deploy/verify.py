"""On the robot, with the installed runtime: `python -m vla_edge.deploy.verify PATH HASH`.

Verifies a copied bundle with vla_edge.bundle itself (every file's size and sha256, the spec, and
whatever else `Bundle.load` checks) and that its content hash is the one the deploy asked for.
Prints one JSON object: {"ok": true} or {"ok": false, "error": ..., "bad": [files to resend]}.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from vla_edge.bundle import Bundle, content_hash, read_manifest, sha256_file
from vla_edge.errors import VlaEdgeError


def verify(path: Path, digest: str) -> dict:
    try:
        bundle = Bundle.load(path, verify=True)
    except VlaEdgeError as exc:
        return {"ok": False, "error": str(exc), "bad": bad_files(path)}
    files = bundle.manifest["files"]
    actual = content_hash(bundle.manifest["spec"], files)
    if actual != digest or bundle.content_hash != digest:
        return {
            "ok": False,
            "error": f"content hash is {actual[:12]} (manifest says {bundle.content_hash[:12]}), "
            f"the deploy asked for {digest[:12]}",
            "bad": ["manifest.json"],
        }
    return {"ok": True, "files": len(files), "bytes": sum(m["size"] for m in files.values())}


def bad_files(path: Path) -> list[str]:
    """Listed files that are missing or differ (by size, then sha256) from the manifest."""
    try:
        files = read_manifest(path)["files"]
    except VlaEdgeError:
        return ["manifest.json"]
    bad = []
    for rel, meta in files.items():
        f = path / rel
        if not f.is_file() or f.stat().st_size != meta["size"] or sha256_file(f) != meta["sha256"]:
            bad.append(rel)
    return bad


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(json.dumps({"ok": False, "error": "usage: verify PATH HASH"}))
        return 2
    result = verify(Path(argv[0]), argv[1])
    print(json.dumps(result))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
