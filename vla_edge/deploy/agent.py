"""The target side of `vla-edge deploy`, part 2: the operations that change the robot's folder.

Sent after agent_facts.py, joined into one program: `python3 -c <program> OP ARGS...`; every
operation prints one JSON object. Layout under DIR:

    bundles/<hash>/            verified versions (content-addressed)
    bundles/.partial-<hash>/   a copy in progress or interrupted (the next deploy resumes it)
    current -> bundles/<hash>  the active version, switched with one atomic rename
    history.json               activations, newest last (status, rollback, pruning)
    runtimes/<id>/             runtime venvs; venv -> runtimes/<id>
    wheels/                    wheels copied for offline installs
    profile/                   the service's last loop summary (`run --profile`)
"""

import fcntl
import hashlib
import json
import os
import shutil
import sys
import time

if "op_probe" not in globals():  # imported as a module (tests), not sent joined
    from vla_edge.deploy.agent_facts import (  # noqa: F401
        MANIFEST,
        current,
        fail,
        layout,
        op_previous,
        op_probe,
        op_status,
        out,
        read_json,
        runtime_state,
        versions,
    )


def write_json(path, data):
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "w") as fh:
        json.dump(data, fh, indent=1)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def safe_rel(rel):
    parts = rel.split("/")
    if rel.startswith("/") or ".." in parts or "" in parts:
        fail(f"refusing a path outside the copy: {rel!r}")
    return os.path.join(*parts)


def _known_files(bundles):
    """sha256 -> a file of a version already on the robot (to link instead of sending)."""
    known = {}
    for v in versions(bundles) if bundles != "-" else []:
        listed = read_json(os.path.join(bundles, v, MANIFEST), {}).get("files") or {}
        for rel, meta in listed.items():
            known.setdefault(meta.get("sha256"), os.path.join(bundles, v, safe_rel(rel)))
    return known


def op_offsets(root, files_json, reuse):
    """Per file of a copy into `root`: the bytes already there to resume from. With `reuse` (a
    bundles folder), a missing file that a version there holds (same sha256) is hard-linked."""
    os.makedirs(root, exist_ok=True)
    known, offsets, reused = _known_files(reuse), {}, 0
    for rel, sha, size in json.loads(files_json):
        path = os.path.join(root, safe_rel(rel))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        if os.path.lexists(path):
            have = os.path.getsize(path)
            if have > size:
                open(path, "wb").close()
            offsets[rel] = have if have <= size else 0
        elif rel != MANIFEST and sha in known and os.path.isfile(known[sha]):
            try:
                os.link(known[sha], path)
            except OSError:
                shutil.copyfile(known[sha], path)
            offsets[rel], reused = size, reused + size
        else:
            offsets[rel] = 0
    out({"offsets": offsets, "reused_bytes": reused})


def op_append(path, offset):
    """stdin -> the end of `path`, which must hold exactly `offset` bytes already."""
    have = os.path.getsize(path) if os.path.exists(path) else 0
    if have != int(offset):
        fail(f"{path} holds {have} bytes, expected {offset}: run the deploy again")
    with open(path, "ab") as fh:
        shutil.copyfileobj(sys.stdin.buffer, fh, 1 << 20)
        fh.flush()
        os.fsync(fh.fileno())
    out({"size": os.path.getsize(path)})


def op_sha256(root, rels_json):
    found = {}
    for rel in json.loads(rels_json):
        path = os.path.join(root, safe_rel(rel))
        if os.path.isfile(path):
            digest = hashlib.sha256()
            with open(path, "rb") as fh:
                for block in iter(lambda fh=fh: fh.read(1 << 20), b""):
                    digest.update(block)
            found[rel] = digest.hexdigest()
    out({"sha256": found})


def op_discard(root, rels_json):
    """Remove files that failed verification from a copy (they are sent again)."""
    for rel in json.loads(rels_json):
        path = os.path.join(root, safe_rel(rel))
        if os.path.lexists(path):
            os.remove(path)
    out({"discarded": json.loads(rels_json)})


def op_rmtree(path):
    shutil.rmtree(path, ignore_errors=True)
    out({"removed": path})


def op_commit(d, digest):
    """bundles/.partial-<hash> -> bundles/<hash> (one rename, after it verified)."""
    d, bundles = layout(d)
    staging, final = os.path.join(bundles, ".partial-" + digest), os.path.join(bundles, digest)
    if not os.path.isdir(final):
        os.rename(staging, final)
    out({"path": final})


def _relink(d, name, dest):
    tmp = os.path.join(d, f".{name}.tmp-{os.getpid()}")
    os.symlink(dest, tmp)
    os.replace(tmp, os.path.join(d, name))
    dfd = os.open(d, os.O_RDONLY)
    os.fsync(dfd)
    os.close(dfd)


def op_switch(d, digest, name):
    """Point `current` at bundles/<hash> with one rename ("-": nothing active); log it."""
    d, bundles = layout(d)
    previous = current(d)
    if digest == "-":
        link = os.path.join(d, "current")
        if os.path.lexists(link):
            os.remove(link)
    elif not os.path.isfile(os.path.join(bundles, digest, MANIFEST)):
        fail(f"version {digest} is not on this robot (deploy it first)")
    else:
        _relink(d, "current", os.path.join("bundles", digest))
    hist = read_json(os.path.join(d, "history.json"), [])
    at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    hist.append({"hash": None if digest == "-" else digest, "name": name, "at": at,
                 "previous": previous})  # fmt: skip
    write_json(os.path.join(d, "history.json"), hist[-200:])
    out({"previous": previous, "current": current(d)})


def op_prune(d, keep):
    """Keep the `keep` most recently active versions (the active one always); drop the rest
    and interrupted copies."""
    d, bundles = layout(d)
    now, order = current(d), []
    for entry in reversed(read_json(os.path.join(d, "history.json"), [])):
        if entry.get("hash") and entry["hash"] not in order:
            order.append(entry["hash"])
    kept = set(([now] if now else []) + order[: int(keep)])
    removed = []
    for name in os.listdir(bundles) if os.path.isdir(bundles) else []:
        if name.startswith(".partial-") or name not in kept:
            shutil.rmtree(os.path.join(bundles, name), ignore_errors=True)
            removed.append(name)
    out({"removed": sorted(removed), "kept": sorted(kept)})


def op_runtime_ready(d, runtime_id, info_json):
    """Mark runtimes/<id> complete and point venv at it (one rename)."""
    d, _ = layout(d)
    write_json(os.path.join(d, "runtimes", runtime_id, ".complete"), json.loads(info_json))
    _relink(d, "venv", os.path.join("runtimes", runtime_id))
    out({"runtime": runtime_state(d)})


def op_lock(d, wait_s):
    """Hold DIR/.lock until stdin closes (the deploy ends or dies): one deploy per robot. Waits
    up to `wait_s` for a deploy that is ending (e.g. one just killed) to let go."""
    d, _ = layout(d)
    os.makedirs(d, exist_ok=True)
    deadline = time.monotonic() + float(wait_s)
    with open(os.path.join(d, ".lock"), "a+") as fh:
        while True:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError:
                if time.monotonic() > deadline:
                    fh.seek(0)
                    return out({"locked": False, "holder": fh.read().strip()})
                time.sleep(0.2)
        fh.seek(0)
        fh.truncate()
        fh.write(f"pid {os.getpid()} since {time.strftime('%Y-%m-%dT%H:%M:%SZ')}\n")
        fh.flush()
        out({"locked": True})
        sys.stdin.read()


def op_write(path, mode):
    """stdin -> `path` atomically (the unit file)."""
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "wb") as fh:
        fh.write(sys.stdin.buffer.read())
    os.chmod(tmp, int(mode, 8))
    os.replace(tmp, path)
    out({"written": path})


OPS = {
    "probe": op_probe, "status": op_status, "previous": op_previous, "offsets": op_offsets,
    "append": op_append, "sha256": op_sha256, "discard": op_discard, "rmtree": op_rmtree,
    "commit": op_commit, "switch": op_switch, "prune": op_prune, "lock": op_lock,
    "runtime-ready": op_runtime_ready, "write": op_write,
}  # fmt: skip


def main(argv):
    if not argv or argv[0] not in OPS:
        fail(f"unknown operation {argv[:1]}; known: {', '.join(sorted(OPS))}", 2)
    try:
        OPS[argv[0]](*argv[1:])
    except (OSError, ValueError, TypeError) as exc:
        fail(f"{argv[0]}: {exc}")


if __name__ == "__main__":
    main(sys.argv[1:])
