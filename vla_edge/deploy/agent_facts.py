"""The target side of `vla-edge deploy`, part 1: what the robot is and what it holds.

The deploy sends this file and agent.py, joined, as `python3 -c <program> OP ARGS...` (see
agent.py). Standard library only and plain syntax, so it runs on the robot's system Python
before any vla-edge is installed there, and on an old Python well enough to say it is too old.
"""

import json
import os
import platform
import pwd
import shutil
import subprocess
import sys

MANIFEST = "manifest.json"


def out(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def fail(msg, code=3):
    out({"error": msg})
    sys.exit(code)


def layout(d):
    """DIR as an absolute path (a relative one is inside the login's home) and its bundles/."""
    d = os.path.join(os.path.expanduser("~"), os.path.expanduser(d))
    d = os.path.abspath(d)
    return d, os.path.join(d, "bundles")


def read_json(path, default=None):
    try:
        with open(path) as fh:
            return json.load(fh)
    except (OSError, ValueError):
        return default


def current(d):
    link = os.path.join(d, "current")
    if not os.path.islink(link):
        return None
    return os.path.basename(os.readlink(link).rstrip("/"))


def versions(bundles):
    if not os.path.isdir(bundles):
        return []
    names = sorted(os.listdir(bundles))
    return [
        n
        for n in names
        if not n.startswith(".") and os.path.isfile(os.path.join(bundles, n, MANIFEST))
    ]


def runtime_state(d):
    link = os.path.join(d, "venv")
    if not os.path.islink(link):
        return None
    root = os.path.realpath(link)
    info = read_json(os.path.join(root, ".complete"))
    ok = info is not None and os.path.exists(os.path.join(root, "bin", "vla-edge"))
    return {"id": os.path.basename(root), "ok": ok, "info": info}


def free_mb(path):
    while not os.path.exists(path):
        path = os.path.dirname(path)
    st = os.statvfs(path)
    return {"path": path, "free_mb": st.f_bavail * st.f_frsize // 2**20}


def meminfo():
    found = {}
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                key, _, rest = line.partition(":")
                found[key] = int(rest.split()[0]) // 1024
    except (OSError, ValueError, IndexError):
        return {}
    return {"total_mb": found.get("MemTotal"), "available_mb": found.get("MemAvailable")}


def text_of(path):
    try:
        with open(path, "rb") as fh:
            return fh.read().replace(b"\x00", b"").decode(errors="replace").strip()
    except OSError:
        return None


def l4t():
    """'36.4.3' from /etc/nv_tegra_release ('# R36 (release), REVISION: 4.3, ...')."""
    line = (text_of("/etc/nv_tegra_release") or "").split("\n")[0]
    if not line.startswith("# R"):
        return None
    major = line[3:].split(" ")[0]
    rev = line.split("REVISION:")[1].split(",")[0].strip() if "REVISION:" in line else ""
    return f"{major}.{rev}" if rev else major


def _stdout(argv, timeout=60):
    try:
        run = subprocess.run(argv, capture_output=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return (run.stdout.decode().strip() or None) if run.returncode == 0 else None


def tensorrt():
    return _stdout([sys.executable, "-c", "import tensorrt; print(tensorrt.__version__)"])


def dpkg_version(pkg):
    if not shutil.which("dpkg-query"):
        return None
    return _stdout(["dpkg-query", "-W", "-f=${Version}", pkg])


def os_name():
    for line in (text_of("/etc/os-release") or "").splitlines():
        if line.startswith("PRETTY_NAME="):
            return line.split("=", 1)[1].strip('"')
    return platform.system()


def venv_ok():
    try:
        import ensurepip  # noqa: F401
        import venv  # noqa: F401
    except ImportError:
        return False
    return True


def service_state(name):
    if not os.path.isdir("/run/systemd/system") or not shutil.which("systemctl"):
        return {"name": name, "state": "no systemd on this machine"}
    props = "LoadState,ActiveState,SubState,UnitFileState,NRestarts,ExecMainStartTimestamp"
    text = _stdout(["systemctl", "show", name, "-p", props]) or ""
    found = dict(line.split("=", 1) for line in text.splitlines() if "=" in line)
    return {"name": name, "state": found.get("ActiveState", "unknown"), **found}


def op_probe(d, service):
    d, bundles = layout(d)
    names = os.listdir(bundles) if os.path.isdir(bundles) else []
    partial = [n[len(".partial-") :] for n in names if n.startswith(".partial-")]
    state = {
        "current": current(d),
        "versions": versions(bundles),
        "partial": partial,
        "runtime": runtime_state(d),
    }
    out(
        {
            "dir": d,
            "arch": platform.machine(),
            "os": os_name(),
            "kernel": platform.release(),
            "python": platform.python_version(),
            "python_path": sys.executable,
            "venv_ok": venv_ok(),
            "glibc": platform.libc_ver()[1] or None,
            "jetson_model": text_of("/proc/device-tree/model"),
            "l4t": l4t(),
            "jetpack": dpkg_version("nvidia-jetpack"),
            "tensorrt": tensorrt(),
            "memory": meminfo(),
            "disk": free_mb(d),
            "systemd": os.path.isdir("/run/systemd/system"),
            "root": os.geteuid() == 0,
            "sudo": shutil.which("sudo") is not None,
            "user": pwd.getpwuid(os.geteuid()).pw_name,
            "service": service_state(service),
            "state": state,
        }
    )


def op_status(d, service):
    d, bundles = layout(d)
    found = []
    for v in versions(bundles):
        m = read_json(os.path.join(bundles, v, MANIFEST), {})
        size = sum(f.get("size", 0) for f in (m.get("files") or {}).values())
        engines = len(m.get("engines") or [])
        found.append(
            {
                "hash": v,
                "name": m.get("name"),
                "created_at": m.get("created_at"),
                "size_bytes": size,
                "engines": engines,
            }
        )
    out(
        {
            "dir": d,
            "current": current(d),
            "versions": found,
            "runtime": runtime_state(d),
            "history": read_json(os.path.join(d, "history.json"), [])[-10:],
            "service": service_state(service),
            "last_loop": read_json(os.path.join(d, "profile", "summary.json")),
        }
    )


def op_previous(d):
    """The version active before the current one that is still on the robot."""
    d, bundles = layout(d)
    now, have = current(d), set(versions(bundles))
    for entry in reversed(read_json(os.path.join(d, "history.json"), [])):
        h = entry.get("hash")
        if h and h != now and h in have:
            return out({"previous": h, "name": entry.get("name"), "current": now})
    out({"previous": None, "current": now})
