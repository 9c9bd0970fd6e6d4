"""The runtime on the robot: DIR/venv -> DIR/runtimes/<id>, installed from wheels copied over.

Robots are often offline, so by default the deploy side downloads the wheels of the runtime's
dependencies for the robot's platform (its CPU architecture, Python and glibc, as probed) with
its own pip, copies them with the vla-edge wheel built here, and the robot installs with
`pip --no-index`. `from_index` lets the robot's pip fetch the dependencies itself instead.
A venv is created at its final path (venvs cannot be moved) and `venv` is switched to it only
once `vla-edge --version` runs there, so a failed install never replaces a working runtime.
"""

from __future__ import annotations

import json
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from vla_edge.deploy.target import Target
from vla_edge.deploy.transfer import Item, offsets, remote_sha256, upload
from vla_edge.deploy.wheel import RuntimeWheel, cache_dir
from vla_edge.errors import DeployError


def runtime_missing(info: dict[str, Any], wheel_id: str | None, update: bool) -> bool:
    state = (info.get("state") or {}).get("runtime")
    if not state or not state.get("ok"):
        return True
    return update and wheel_id is not None and state.get("id") != wheel_id


def _platform_args(info: dict[str, Any]) -> list[str]:
    """pip download options for the robot's platform ([] when it is this machine's)."""
    arch, py = info.get("arch") or "", str(info.get("python", ""))
    major_minor = ".".join(py.split(".")[:2])
    here = f"{sys.version_info[0]}.{sys.version_info[1]}"
    local_glibc = platform.libc_ver()[1] or "0"
    if (
        arch == platform.machine()
        and major_minor == here
        and _ver(info.get("glibc")) >= _ver(local_glibc)
    ):
        return []
    glibc_minor = _ver(info.get("glibc") or "2.17")[1]
    plats = [f"manylinux_2_{m}_{arch}" for m in range(glibc_minor, 16, -1)]
    plats += [f"manylinux2014_{arch}", f"linux_{arch}"]
    nodot = major_minor.replace(".", "")
    args = ["--only-binary=:all:", "--python-version", major_minor, "--implementation", "cp"]
    args += ["--abi", f"cp{nodot}", "--abi", "abi3", "--abi", "none"]
    for plat in plats:
        args += ["--platform", plat]
    return args


def _ver(text: str | None) -> tuple[int, int]:
    parts = [int(p) for p in str(text or "0.0").split(".")[:2] if p.isdigit()]
    return (parts + [0, 0])[0], (parts + [0, 0])[1]


def wheelhouse(wheel: RuntimeWheel, info: dict[str, Any], extras: tuple[str, ...]) -> list[Path]:
    """The runtime's dependency wheels for the robot's platform (cached per runtime id)."""
    plat = _platform_args(info)
    key = f"{info.get('arch')}-py{info.get('python')}-glibc{info.get('glibc')}-{'+'.join(extras)}"
    out = cache_dir() / "wheelhouse" / wheel.runtime_id / key
    done = out / ".complete"
    if not done.is_file():
        out.mkdir(parents=True, exist_ok=True)
        req = f"{wheel.path}[{','.join(extras)}]" if extras else str(wheel.path)
        cmd = [sys.executable, "-m", "pip", "download", "-q", "-d", str(out), *plat, req]
        if not plat:
            cmd.insert(5, "--only-binary=:all:")
        run = subprocess.run(cmd, capture_output=True, text=True)
        if run.returncode != 0:
            tail = " | ".join((run.stderr or run.stdout).strip().splitlines()[-2:])
            raise DeployError(
                f"could not download the runtime's wheels for {info.get('arch')} / Python "
                f"{info.get('python')} ({tail}); with no index here, pass --from-index so the "
                "robot installs them from its own"
            )
        done.write_text(json.dumps({"cmd": cmd}))
    return sorted(p for p in out.glob("*.whl") if p.name != wheel.path.name)


def files_to_copy(wheel: RuntimeWheel, deps: list[Path]) -> list[Item]:
    items = [
        Item(
            f"vla-edge-{wheel.runtime_id}/{wheel.path.name}",
            wheel.path,
            _sha(wheel.path),
            wheel.path.stat().st_size,
        )
    ]
    return items + [Item(p.name, p, _sha(p), p.stat().st_size) for p in deps]


def _sha(path: Path) -> str:
    from vla_edge.bundle import sha256_file

    return sha256_file(path)


def copy_wheels(target: Target, items: list[Item], progress=None, rate=None) -> dict[str, int]:
    root = f"{target.dir}/wheels"
    have = offsets(target, root, items, reuse=False)["offsets"]
    sent = upload(target, root, items, have, progress, rate)
    bad = remote_sha256(target, root, items)
    if bad:  # a torn or stale file: send those once more from the start
        target.call("discard", root, json.dumps(bad))
        again = [i for i in items if i.rel in bad]
        sent += upload(target, root, again, {}, progress, rate)
        if remote_sha256(target, root, again):
            raise DeployError(f"{target.host}: wheels arrive corrupted: {bad}")
    return {"sent": sent, "files": len(items)}


def install(
    target: Target, wheel: RuntimeWheel, info: dict[str, Any], extras, from_index: bool
) -> dict[str, Any]:
    """Create runtimes/<id>, pip install the copied wheel there, then point venv at it."""
    root = f"{target.dir}/runtimes/{wheel.runtime_id}"
    target.call("rmtree", root)  # a half-made venv of an interrupted install
    venv = [target.python, "-m", "venv"]
    if info.get("tensorrt"):  # JetPack's TensorRT lives in the system site-packages
        venv.append("--system-site-packages")
    target.conn.run([*venv, root], timeout=600)
    spec = f"{target.dir}/wheels/vla-edge-{wheel.runtime_id}/{wheel.path.name}"
    spec += f"[{','.join(extras)}]" if extras else ""
    pip = [f"{root}/bin/python", "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    if not from_index:
        pip += ["--no-index", "--find-links", f"{target.dir}/wheels"]
    started = time.monotonic()
    target.conn.run([*pip, spec], timeout=1800)
    version = target.conn.run([f"{root}/bin/vla-edge", "--version"]).stdout.decode().strip()
    record = {
        "id": wheel.runtime_id,
        "version": version,
        "extras": list(extras),
        "from_index": from_index,
        "installed_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "install_seconds": round(time.monotonic() - started, 1),
    }
    target.call("runtime-ready", target.dir, wheel.runtime_id, json.dumps(record))
    return record
