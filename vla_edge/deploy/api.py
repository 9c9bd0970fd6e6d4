"""`deploy`, `status` and `rollback` for one robot or many.

A deploy never leaves a robot without a working version: everything is checked before copying,
the copy lands beside the active version and is verified there, `current` is switched in one
rename, and a failed health check switches it back by itself.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from vla_edge.bundle import Bundle
from vla_edge.deploy import probe as probing
from vla_edge.deploy import runtime, steps
from vla_edge.deploy.service import UNIT, ServiceConfig
from vla_edge.deploy.ssh import Connection, Host, SshOptions
from vla_edge.deploy.target import Target
from vla_edge.deploy.transfer import bundle_items
from vla_edge.deploy.wheel import RuntimeWheel, local_wheel
from vla_edge.errors import DeployError, VlaEdgeError

# (host, event, data): "step" {"name"}, "total" {"bytes"}, "sent" {"bytes"}
Events = Callable[[str, str, dict], None]


@dataclass(frozen=True)
class DeployOptions:
    dir: str = "vla-edge"
    python: str = "python3"  # the robot's interpreter for the agent and the runtime venv
    build: bool = False
    service: bool = False
    service_config: ServiceConfig = field(default_factory=ServiceConfig)
    keep: int = 3
    device: str | None = None  # the robot's profile when the probe cannot tell
    precision: str | None = None  # for check and --build
    update_runtime: bool = False
    from_index: bool = False
    extras: tuple[str, ...] = ()
    wheel: Path | None = None
    rate_limit: float | None = None  # bytes per second
    ssh: SshOptions = field(default_factory=SshOptions)

    def __post_init__(self) -> None:
        if self.keep < 1:
            raise DeployError(
                f"--keep must be >= 1 (the active version is always kept), got {self.keep}"
            )
        if self.rate_limit is not None and self.rate_limit <= 0:
            raise DeployError(f"--limit-rate must be > 0 bytes/s, got {self.rate_limit}")
        if not self.dir or "\n" in self.dir:
            raise DeployError(f"--dir must be a path on the robot, got {self.dir!r}")


@dataclass
class HostResult:
    host: str
    ok: bool = False
    outcome: str = "failed"  # deployed | unchanged | refused | rolled-back | failed
    version: str | None = None
    previous: str | None = None
    active: str | None = None
    message: str = ""
    reasons: list[str] = field(default_factory=list)
    target: dict[str, Any] = field(default_factory=dict)
    copy: dict[str, int] = field(default_factory=dict)
    runtime: dict[str, Any] | None = None
    engine: dict[str, Any] | None = None
    service: dict[str, Any] | None = None
    health: dict[str, Any] | None = None
    pruned: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class _Local:
    """What every host shares: the runtime wheel and the wheelhouses, made once."""

    def __init__(self, options: DeployOptions) -> None:
        self.options, self._lock, self._wheel = options, threading.Lock(), None
        self._houses: dict[str, list[Path]] = {}

    def wheel(self) -> RuntimeWheel:
        with self._lock:
            if self._wheel is None:
                self._wheel = local_wheel(self.options.wheel)
            return self._wheel

    def deps(self, info: dict) -> list[Path]:
        if self.options.from_index:
            return []
        wheel = self.wheel()
        with self._lock:
            key = f"{info.get('arch')}-{info.get('python')}-{info.get('glibc')}"
            if key not in self._houses:
                self._houses[key] = runtime.wheelhouse(wheel, info, self.options.extras)
            return self._houses[key]


def for_host(options: DeployOptions, directory: str | None) -> DeployOptions:
    """The options for one robot of a hosts file that names its own dir."""
    return replace(options, dir=directory) if directory else options


def deploy(
    bundle_path: Path,
    hosts: list[tuple[Host, str | None]],
    options: DeployOptions,
    events: Events | None = None,
) -> list[HostResult]:
    """Deploy to every (host, dir) in parallel; one failing host does not stop the others."""
    bundle = Bundle.load(bundle_path, verify=True)  # never send a broken bundle anywhere
    local, events = _Local(options), events or (lambda *a: None)

    def one(entry: tuple[Host, str | None]) -> HostResult:
        return deploy_one(bundle, entry[0], for_host(options, entry[1]), local, events)

    with ThreadPoolExecutor(max_workers=min(8, max(len(hosts), 1))) as pool:
        return list(pool.map(one, hosts))


def deploy_one(bundle: Bundle, host: Host, options: DeployOptions, local, events) -> HostResult:
    res, started = HostResult(str(host), version=bundle.content_hash), time.monotonic()
    try:
        with Connection(host, options.ssh) as conn:
            conn.connect()
            target = Target(conn, options.dir, options.python)
            target.lock()
            try:
                _deploy(bundle, target, options, local, res, lambda e, **d: events(str(host), e, d))
            finally:
                target.unlock()
            res.notes += conn.notes
    except VlaEdgeError as exc:
        res.ok, res.message = False, str(exc)
        res.outcome = res.outcome if res.outcome in ("refused", "rolled-back") else "failed"
    res.seconds = round(time.monotonic() - started, 2)
    return res


def _deploy(bundle: Bundle, target: Target, opts: DeployOptions, local, res, emit) -> None:
    emit("step", name="probe")
    info = target.call("probe", opts.dir, UNIT)
    target.dir, state, digest = info["dir"], info["state"], bundle.content_hash
    profile = probing.device_profile(info, opts.device)
    res.target, res.active, res.previous = probing.summary(info, profile), state["current"], None
    if state["current"] == digest and not (opts.build or opts.service or opts.update_runtime):
        res.ok, res.outcome = True, "unchanged"
        res.message = f"{digest[:12]} is already active on {target.host}: nothing to do"
        return
    wheel_id = local.wheel().runtime_id if opts.update_runtime else None
    need_runtime = runtime.runtime_missing(info, wheel_id, opts.update_runtime)
    wheels = runtime.files_to_copy(local.wheel(), local.deps(info)) if need_runtime else []
    have = digest in state["versions"]
    send = 0 if have else sum(i.size for i in bundle_items(bundle))
    errors, warnings, _ = probing.check_bundle(bundle.path, profile, opts.precision, opts.build)
    errors += [  # the robot's run/predict would refuse it: say so before copying anything
        f"the bundle is marked failed ({r}); re-make it within its budget"
        for r in bundle.failure_reasons
    ]
    info.update(_host=target.host, _needs_runtime=need_runtime)
    wheel_bytes = sum(i.size for i in wheels)
    res.reasons = errors + probing.preflight(info, opts, probing.needed_mb(send, wheel_bytes))
    res.notes += warnings
    if res.reasons:
        res.outcome = "refused"
        raise DeployError(
            f"{target.host}: refused before copying anything: {'; '.join(res.reasons)}"
        )
    emit("total", bytes=send + wheel_bytes)
    progress = lambda n: emit("sent", bytes=n)  # noqa: E731
    if need_runtime:
        emit("step", name="runtime")
        steps_copy = runtime.copy_wheels(target, wheels, progress, opts.rate_limit)
        res.runtime = {
            **runtime.install(target, local.wheel(), info, opts.extras, opts.from_index),
            "copied": steps_copy,
        }
    if not have:
        emit("step", name="copy")
        res.copy = steps.copy_bundle(target, bundle, progress, opts.rate_limit)
    if opts.build:
        emit("step", name="build")
        res.engine = steps.build_engine(target, digest, profile.name, opts.precision)
    _activate(bundle, target, info, opts, res, emit)


def _activate(bundle: Bundle, target: Target, info, opts: DeployOptions, res, emit) -> None:
    """Switch, (re)start the service, health-check; roll back by itself when the check fails."""
    emit("step", name="switch")
    previous = steps.switch(target, bundle.content_hash, bundle.name)["previous"]
    res.previous, res.active = previous, bundle.content_hash
    root, service = bool(info.get("root")), opts.service or steps.service_installed(info)
    config = ServiceConfig(
        **{
            **asdict(opts.service_config),
            "backend": "trt" if opts.build else opts.service_config.backend,
        }
    )
    if opts.service:
        res.service = steps.install_service(target, info, config)
    elif service:
        steps.restart_service(target, root)
    emit("step", name="health")
    res.health = steps.health_check(target, built=opts.build, service=service)
    if not res.health["ok"]:
        failed = "; ".join(
            f"{c['name']}: {c['error']}" for c in res.health["checks"] if not c["ok"]
        )
        steps.switch(target, previous, "rollback")
        if service and previous:
            steps.restart_service(target, root)
        res.active, res.outcome = previous, "rolled-back"
        back = (
            f"rolled back to {previous[:12]} (active again)"
            if previous
            else ("no earlier version: none is active now")
        )
        raise DeployError(f"{target.host}: health check failed ({failed}); {back}")
    res.pruned = target.call("prune", target.dir, opts.keep)["removed"]
    res.ok, res.outcome = True, "deployed"
    res.message = f"{bundle.content_hash[:12]} active on {target.host}" + (
        f" (was {previous[:12]})" if previous else ""
    )


def status(host: Host, options: DeployOptions) -> dict[str, Any]:
    """Versions, the active one, runtime, service state and the last loop summary; a robot
    that cannot be reached gives {"ok": False, "error": ...} (the others are still asked)."""
    try:
        with Connection(host, options.ssh) as conn:
            conn.connect()
            answer = Target(conn, options.dir, options.python).call("status", options.dir, UNIT)
    except VlaEdgeError as exc:
        return {"host": str(host), "ok": False, "error": str(exc)}
    return {"host": str(host), "ok": True, "notes": conn.notes, **answer}


def rollback(host: Host, options: DeployOptions) -> HostResult:
    """Switch back to the version active before this one, restart the service, health-check."""
    res, started = HostResult(str(host)), time.monotonic()
    try:
        with Connection(host, options.ssh) as conn:
            conn.connect()
            target = Target(conn, options.dir, options.python)
            target.lock()
            try:
                _rollback(target, options, res)
            finally:
                target.unlock()
    except VlaEdgeError as exc:
        res.ok, res.message = False, str(exc)
    res.seconds = round(time.monotonic() - started, 2)
    return res


def _rollback(target: Target, options: DeployOptions, res: HostResult) -> None:
    info = target.call("probe", options.dir, UNIT)
    target.dir = info["dir"]
    prev = target.call("previous", target.dir)
    if not prev["previous"]:
        res.outcome = "refused"
        raise DeployError(f"{target.host}: no earlier version on the robot to roll back to")
    steps.switch(target, prev["previous"], prev.get("name") or "rollback")
    res.version, res.previous, res.active = prev["previous"], prev["current"], prev["previous"]
    service = steps.service_installed(info)
    if service:
        steps.restart_service(target, bool(info.get("root")))
    res.health = steps.health_check(target, built=False, service=service)
    res.ok, res.outcome = res.health["ok"], "rolled-back"
    res.message = (
        f"{target.host}: {prev['previous'][:12]} active again (was {str(prev['current'])[:12]})"
    )
    if not res.ok:
        res.message += "; but its health check fails: " + "; ".join(
            f"{c['name']}: {c['error']}" for c in res.health["checks"] if not c["ok"]
        )
