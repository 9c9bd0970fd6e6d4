"""`vla-edge deploy BUNDLE --host USER@HOST[:PORT]`, `deploy status HOST`, `deploy rollback`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from vla_edge.cli.common import JsonOpt, command, console, err_console, print_json
from vla_edge.errors import DeployError

ACTIONS = ("status", "rollback")


def register(app: typer.Typer) -> None:
    command(app, "deploy")(deploy)


def deploy(
    what: Annotated[
        list[str], typer.Argument(help="BUNDLE to deploy, or `status HOST...`, `rollback HOST...`.")
    ],
    host: Annotated[
        list[str] | None, typer.Option("--host", help="USER@HOST[:PORT]; repeat for many robots.")
    ] = None,
    hosts_file: Annotated[
        Path | None, typer.Option(help="Robots, one `USER@HOST[:PORT] [dir=PATH]` per line.")
    ] = None,
    identity: Annotated[Path | None, typer.Option("--identity", "-i", help="SSH key.")] = None,
    directory: Annotated[str, typer.Option("--dir", help="Folder on the robot.")] = "vla-edge",
    python: Annotated[str, typer.Option(help="The robot's Python (>= 3.10).")] = "python3",
    build: Annotated[bool, typer.Option(help="Build the TensorRT engine on the robot.")] = False,
    service: Annotated[bool, typer.Option(help="Install and start the systemd unit.")] = False,
    run_args: Annotated[str, typer.Option(help="Arguments of the service's `vla-edge run`.")] = "",
    rt_priority: Annotated[int, typer.Option(help="Service SCHED_FIFO priority (0: off).")] = 50,
    keep: Annotated[int, typer.Option(help="Versions kept on the robot.")] = 3,
    device: Annotated[
        str | None, typer.Option(help="Robot profile if the probe can't tell.")
    ] = None,
    precision: Annotated[str | None, typer.Option(help="Precision for check/--build.")] = None,
    known_hosts: Annotated[Path | None, typer.Option(help="known_hosts file to check.")] = None,
    accept_new_host_key: Annotated[
        bool, typer.Option(help="Trust an unknown host key on first contact (never a changed one).")
    ] = False,
    update_runtime: Annotated[bool, typer.Option(help="Reinstall the robot's runtime.")] = False,
    from_index: Annotated[bool, typer.Option(help="Robot's pip fetches the dependencies.")] = False,
    extra: Annotated[list[str] | None, typer.Option(help="Runtime extra (e.g. camera).")] = None,
    wheel: Annotated[Path | None, typer.Option(help="A vla-edge wheel to install.")] = None,
    limit_rate: Annotated[float | None, typer.Option(help="Copy at most N MB/s.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Put a bundle onto robot computers over SSH: probe, check, copy (resumable, verified
    there), switch atomically, health-check, roll back by itself when the check fails."""
    from vla_edge.deploy import api, hosts
    from vla_edge.deploy.service import ServiceConfig
    from vla_edge.deploy.ssh import SshOptions

    action = what[0] if what[0] in ACTIONS else None
    if action is None and len(what) != 1:
        raise DeployError(f"deploy takes one BUNDLE (then --host), got {what}")
    opts = api.DeployOptions(
        dir=directory, python=python, build=build, service=service, keep=keep, device=device,
        precision=precision, update_runtime=update_runtime, from_index=from_index,
        extras=tuple(extra or ()), wheel=wheel, rate_limit=limit_rate and limit_rate * 2**20,
        ssh=SshOptions(identity, known_hosts, accept_new_host_key),
        service_config=ServiceConfig(run_args=run_args, rt_priority=rt_priority),
    )  # fmt: skip
    entries = hosts.collect([*(what[1:] if action else []), *(host or [])], hosts_file)
    if action == "status":
        return _print_status([api.status(h, api.for_host(opts, d)) for h, d in entries], json_out)
    if action == "rollback":
        results = [api.rollback(h, api.for_host(opts, d)) for h, d in entries]
    else:
        results = _deploy(Path(what[0]), entries, opts, json_out)
    _print_results([r.to_dict() for r in results], json_out)
    if not all(r.ok for r in results):
        raise typer.Exit(1)


def _deploy(bundle: Path, entries, opts, json_out: bool):
    from contextlib import nullcontext

    from vla_edge.deploy import api
    from vla_edge.deploy.report import ProgressBars

    with nullcontext(None) if json_out else ProgressBars(err_console) as bars:
        return api.deploy(bundle, entries, opts, bars)


def _print_results(dicts: list[dict], json_out: bool) -> None:
    from vla_edge.deploy.report import result_lines

    if json_out:
        return print_json(dicts)
    for line in (ln for d in dicts for ln in result_lines(d)):
        console.print(line, markup=False, highlight=False)


def _print_status(found: list[dict], json_out: bool) -> None:
    from vla_edge.deploy.report import status_lines

    if json_out:
        print_json(found)
    else:
        for line in (ln for s in found for ln in status_lines(s)):
            console.print(line, markup=False, highlight=False)
    if not all(s["ok"] for s in found):
        raise typer.Exit(1)
