"""The steps of a deploy that act on the robot: copy and verify a bundle, build its engine, check
its health, install or restart the service, switch versions."""

from __future__ import annotations

import json
import time
from typing import Any

from vla_edge.bundle import Bundle
from vla_edge.deploy.service import UNIT, UNIT_DIR, ServiceConfig, render_unit
from vla_edge.deploy.ssh import last_line
from vla_edge.deploy.target import Target, parse
from vla_edge.deploy.transfer import bundle_items, offsets, upload
from vla_edge.errors import DeployError


def copy_bundle(target: Target, bundle: Bundle, progress=None, rate=None) -> dict[str, int]:
    """Into bundles/.partial-<hash>/ (resuming, reusing files of other versions), verified on the
    robot by vla_edge.bundle, then renamed to bundles/<hash>/."""
    digest, items = bundle.content_hash, bundle_items(bundle)
    staging = f"{target.dir}/bundles/.partial-{digest}"
    got = offsets(target, staging, items, reuse=True)
    reused = int(got.get("reused_bytes", 0))
    resumed = sum(min(int(v), i.size) for i, v in _pairs(items, got["offsets"])) - reused
    sent = upload(target, staging, items, got["offsets"], progress, rate)
    result = verify_remote(target, staging, digest)
    if not result["ok"] and result.get("bad"):  # a torn file: send those once more
        bad = result["bad"]
        target.call("discard", staging, json.dumps(bad))
        again = [i for i in items if i.rel in bad]
        sent += upload(target, staging, again, {}, progress, rate)
        result = verify_remote(target, staging, digest)
    if not result["ok"]:
        raise DeployError(f"{target.host}: the copy does not verify there: {result['error']}")
    target.call("commit", target.dir, digest)
    total = sum(i.size for i in items)
    return {"sent": sent, "resumed": resumed, "reused": reused, "total": total}


def _pairs(items, offs):
    return [(i, offs.get(i.rel, 0)) for i in items]


def verify_remote(target: Target, path: str, digest: str) -> dict[str, Any]:
    """vla_edge.bundle's own verification, run by the robot's runtime."""
    out = target.conn.run(
        [target.venv_bin("python"), "-m", "vla_edge.deploy.verify", path, digest], check=False
    )
    if out.returncode not in (0, 1):
        raise DeployError(
            f"{target.host}: verifying there failed (exit {out.returncode}): "
            f"{last_line(out.stderr)}; an old runtime? pass --update-runtime"
        )
    return parse(out, f"{target.host}: verify") if out.returncode == 0 else _answer(out)


def _answer(out) -> dict[str, Any]:
    try:
        return json.loads(out.stdout.decode().strip().splitlines()[-1])
    except (ValueError, IndexError):
        return {"ok": False, "error": last_line(out.stderr)}


def build_engine(target: Target, digest: str, device: str, precision: str | None) -> dict:
    args = ["build", f"{target.dir}/bundles/{digest}", "--device", device]
    args += ["--precision", precision] if precision else []
    out = target.vla(*args, timeout=7200)
    if out.returncode != 0:
        raise DeployError(
            f"{target.host}: `vla-edge build` failed there: "
            f"{last_line(out.stderr) or last_line(out.stdout)}"
        )
    return {"device": device, "output": last_line(out.stdout)}


def health_check(target: Target, built: bool, service: bool) -> dict[str, Any]:
    """`predict --example` on DIR/current (and on the engine when built); with a service, the
    unit must still be active a few seconds after its restart."""
    checks = [_predict(target, None)]
    if built:
        checks.append(_predict(target, "trt"))
    if service:
        checks.append(_service_alive(target))
    return {"ok": all(c["ok"] for c in checks), "checks": checks}


def _predict(target: Target, backend: str | None) -> dict[str, Any]:
    args = ["predict", f"{target.dir}/current", "--example", "--json"]
    args += ["--backend", backend] if backend else []
    name = "predict --example" + (f" --backend {backend}" if backend else "")
    out = target.vla(*args, timeout=600)
    if out.returncode != 0:
        why = last_line(out.stderr) or last_line(out.stdout) or f"exit {out.returncode}"
        return {"name": name, "ok": False, "error": why}
    try:
        answer = json.loads(out.stdout.decode())
        return {"name": name, "ok": True, "latency_ms": round(answer["latency_ms"], 3)}
    except (ValueError, KeyError) as exc:
        return {"name": name, "ok": False, "error": f"unreadable output ({exc})"}


def _service_alive(target: Target, settle_s: float = 5.0) -> dict[str, Any]:
    time.sleep(settle_s)
    state = target.call("status", target.dir, UNIT)["service"]
    ok = state.get("state") == "active" and state.get("NRestarts", "0") in ("0", "")
    return {"name": f"{UNIT} active", "ok": ok, "error": None if ok else f"{state}"}


def install_service(target: Target, info: dict, config: ServiceConfig) -> dict[str, Any]:
    user = info.get("user") or "root"
    unit = render_unit(target.dir, user, config)
    root = bool(info.get("root"))
    write = target.sudo(target.agent_argv("write", f"{UNIT_DIR}/{UNIT}", "0644"), root)
    parse(target.conn.run(write, input=unit.encode(), check=False), f"{target.host}: unit")
    for argv in (["systemctl", "daemon-reload"], ["systemctl", "enable", UNIT]):
        target.conn.run(target.sudo(argv, root))
    restart_service(target, root)
    return {"unit": f"{UNIT_DIR}/{UNIT}", "user": user}


def restart_service(target: Target, root: bool) -> None:
    target.conn.run(target.sudo(["systemctl", "restart", UNIT], root))


def service_installed(info: dict) -> bool:
    return (info.get("service") or {}).get("LoadState") == "loaded"


def switch(target: Target, digest: str | None, name: str = "") -> dict[str, Any]:
    """Make `digest` the active version (None: no version active)."""
    return target.call("switch", target.dir, digest or "-", name)
