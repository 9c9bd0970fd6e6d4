"""`vla-edge run BUNDLE --camera [NAME=]SOURCE --actuator URI --instruction TEXT --rate HZ`:
the camera-to-actuator loop (see vla_edge/runtime/). `--sim SUITE:TASK` closes it on the
simulator's cameras and robot."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from vla_edge.cli.common import BackendOpt, JsonOpt, command, err_console, print_json
from vla_edge.cli.inputs import check_instruction, parse_kinds, parse_state_option
from vla_edge.cli.options import (
    AllowFailedOpt,
    CudaGraphOpt,
    EngineDeviceOpt,
    ProvidersOpt,
    ZeroCopyOpt,
    runner_options,
    warn_failed,
)

CHUNKING_HELP = "open-loop | ensemble (ACT temporal ensembling) | async | rtc (real-time chunking)"


def register(app: typer.Typer) -> None:
    command(app, "run")(run)


def run(
    bundle: Annotated[Path, typer.Argument(help="Bundle (or checkpoint with --backend torch).")],
    camera: Annotated[
        list[str] | None,
        typer.Option(
            help="[NAME=]SOURCE: device index, /dev/videoN, csi://N, gst:PIPELINE, "
            "video file, image folder, pattern[:WxH@FPS], sim:CAM. Once per camera."
        ),
    ] = None,
    actuator: Annotated[
        str | None,
        typer.Option(
            help="stdout | file:PATH | udp://HOST:PORT[?format=json|binary] | "
            "ros2:///TOPIC | null | sim. Default: stdout (sim with --sim)."
        ),
    ] = None,
    instruction: Annotated[str | None, typer.Option(help="Task text (default: the sim's).")] = None,
    rate: Annotated[float, typer.Option(help="Control rate in Hz.")] = 30.0,
    chunking: Annotated[str, typer.Option(help=CHUNKING_HELP)] = "open-loop",
    execute: Annotated[int | None, typer.Option(help="Actions executed per chunk.")] = None,
    duration: Annotated[float | None, typer.Option(help="Stop after S seconds.")] = None,
    cycles: Annotated[int | None, typer.Option(help="Stop after N cycles.")] = None,
    profile: Annotated[Path | None, typer.Option(help="Write summary/trace/plot here.")] = None,
    backend: BackendOpt = "onnxrt",
    threads: Annotated[int | None, typer.Option(help="Inference threads (backend).")] = None,
    providers: ProvidersOpt = None,
    cuda_graph: CudaGraphOpt = False,
    zero_copy: ZeroCopyOpt = None,
    engine_device: EngineDeviceOpt = None,
    allow_failed: AllowFailedOpt = False,
    on_fault: Annotated[str, typer.Option(help="hold | zero | stop")] = "hold",
    max_step: Annotated[
        float | None, typer.Option(help="Rate limit: max change per step, fraction of range.")
    ] = None,
    stale_ms: Annotated[float | None, typer.Option(help="Max camera frame age.")] = None,
    overrun_periods: Annotated[int, typer.Option(help="Inference overrun limit.")] = 3,
    rt_priority: Annotated[
        int | None,
        typer.Option(help="Run the loop threads under SCHED_FIFO at this priority (1-99, Linux)."),
    ] = None,
    action_kind: Annotated[
        str | None,
        typer.Option(
            help="What the actions mean when the bundle does not say (or to override it): "
            "delta (0 = no motion) | absolute (positions), or one per dimension, comma-separated."
        ),
    ] = None,
    state: Annotated[
        str | None,
        typer.Option(
            help="State for a policy that takes one when the actuator reports none: mean (the "
            "training mean) | zeros | v1,v2,... Without it such a run is refused."
        ),
    ] = None,
    sim: Annotated[
        str | None, typer.Option(help="SUITE:TASK: run closed on the simulator.")
    ] = None,
    seed: Annotated[
        int, typer.Option(help="Simulator placement N (held-out evaluation seeds).")
    ] = 0,
    quiet: Annotated[bool, typer.Option(help="No live status line.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Run the policy at a fixed rate from cameras to an actuator, with a safety filter,
    a watchdog and per-stage latency profiling. Ctrl-C stops cleanly."""
    from vla_edge.policy.policy import Policy
    from vla_edge.runtime import ControlLoop, LoopConfig
    from vla_edge.runtime.report import headline
    from vla_edge.runtime.setup import build_actuator, build_cameras, open_sim
    from vla_edge.runtime.signals import stop_on_signals
    from vla_edge.runtime.status import live_status

    if profile is not None:
        from vla_edge.runtime.profile import check_profile_dir

        check_profile_dir(profile, inputs=(bundle,))
    options = runner_options(threads, providers, cuda_graph, zero_copy, engine_device)
    with Policy.load(bundle, backend=backend, options=options, allow_failed=allow_failed) as policy:
        warn_failed(policy)
        session = open_sim(sim, seed, policy.spec)
        text = instruction if instruction is not None else (session.instruction if session else "")
        check_instruction(policy, text)
        config = LoopConfig(
            rate_hz=rate,
            instruction=text,
            chunking=chunking,
            execute=execute,
            on_fault=on_fault,
            stale_ms=stale_ms,
            overrun_periods=overrun_periods,
            duration_s=duration,
            max_cycles=cycles,
            max_step=max_step,
            rt_priority=rt_priority,
            action_kind=parse_kinds(action_kind),
            state=parse_state_option(state),
        )
        cams = build_cameras(policy.spec, camera or [], session)
        act = build_actuator(policy.spec, actuator, config.period_s, session)
        loop = ControlLoop(policy, cams, act, config)
        if loop.kind_source.startswith("default"):
            typer.echo(
                f"warning: {bundle} does not declare what its actions mean; hold/stop send zero "
                f"motion in every dimension (read as deltas). If they are positions, pass "
                f"--action-kind absolute (or one per dimension of {policy.spec.action.names})",
                err=True,
            )
        show = not (quiet or json_out)
        with stop_on_signals(loop), live_status(loop, err_console, enabled=show):
            summary = loop.run()
    if profile is not None:
        from vla_edge.runtime.profile import write_profile

        summary["profile_files"] = write_profile(profile, summary, loop.log)
    if json_out:
        print_json(summary)
    else:
        err_console.print(headline(summary) + f"\nstopped: {summary['stop_reason']}")
        if "sim" in summary:
            err_console.print(f"episode: {summary['sim']}")
        if profile is not None:
            names = ", ".join(Path(f).name for f in summary["profile_files"].values())
            err_console.print(f"profile written to {profile}/ ({names})")
            if "plot_error" in summary:
                err_console.print(f"no timeline plot: {summary['plot_error']}")
    if summary["no_action_reason"]:
        typer.echo(f"error: {summary['no_action_reason']}", err=True)
        raise typer.Exit(3)
    if (summary.get("stop_reason") or "").startswith(("fault", "actuator failed")):
        raise typer.Exit(3)
