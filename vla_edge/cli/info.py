"""`vla-edge info BUNDLE`: spec, graphs, sizes, precision, lineage, validation."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from vla_edge.cli.common import BundleArg, JsonOpt, command, console, print_json


def register(app: typer.Typer) -> None:
    command(app, "info")(info)


def info(
    bundle: BundleArg,
    verify: Annotated[bool, typer.Option(help="Check every file's sha256.")] = True,
    json_out: JsonOpt = False,
) -> None:
    """Describe a bundle: what it is, how accurate it is, where it came from."""
    from vla_edge.bundle import Bundle

    b = Bundle.load(bundle, verify=verify)
    if json_out:
        print_json({**b.manifest, "path": str(b.path), "layout": b.layout})
        return
    spec = b.spec
    console.print(
        f"[bold]{b.name}[/bold]  {b.path}  ({b.layout}, {b.precision}, "
        f"{b.size_bytes() / 1e6:.2f} MB of graphs)  hash {b.content_hash[:12]}"
    )
    for reason in b.failure_reasons:
        console.print(
            f"FAILED {reason} (kept with --keep-failed; predict/run/eval refuse it without "
            "--allow-failed)",
            style="bold red",
            markup=False,
            soft_wrap=True,
        )
    cams = ", ".join(f"{c.name} {c.height}x{c.width}" for c in spec.cameras)
    a = spec.action
    console.print(
        f"cameras: {cams}; state: {spec.state_dim}; instruction: <= "
        f"{spec.instruction.max_tokens} tokens ({spec.instruction.tokenizer})"
    )
    console.print(
        f"actions: {a.representation}, chunk {a.chunk}: "
        + ", ".join(
            f"{n} [{lo:g}, {hi:g}] {u} {k}"
            for n, u, lo, hi, k in zip(a.names, a.units, a.low, a.high, a.kinds, strict=True)
        )
        + ("" if a.kind is not None else " (kind not declared: read as delta)"),
        markup=False,
    )
    console.print(_graph_table(b))
    lin = b.manifest.get("lineage", {})
    console.print(
        f"lineage: {lin.get('step')} {lin.get('settings')} parent "
        f"{(lin.get('parent') or 'none')[:12]}"
    )
    for line in parity_lines(b.manifest.get("validation", {}).get("parity")):
        console.print("validation: " + line)
    validation = b.manifest.get("validation", {})
    if "quantization" in validation:
        from vla_edge.cli.quantize import summary_lines

        for line in summary_lines(b):
            console.print("validation: " + line, markup=False)
    for line in eval_lines(validation.get("eval")):
        console.print("validation: " + line, markup=False)
    for line in engine_lines(b.manifest):
        console.print("validation: " + line, markup=False, soft_wrap=True)
    for key, value in validation.items():
        if key not in ("parity", "export_seconds", "quantization", "eval", "engines"):
            console.print(f"validation {key}: {value}", markup=False)


def engine_lines(manifest: dict) -> list[str]:
    """One line per engine/backend `vla-edge validate` judged (validation.engines)."""
    from vla_edge.bundle import engine_validation

    lines = []
    for key, rec in ((manifest.get("validation") or {}).get("engines") or {}).items():
        if engine_validation(manifest, key) is None:
            lines.append(f"validate {key}: rebuilt since it was validated (run validate again)")
            continue
        obs = rec.get("observations") or {}
        real = obs.get("real_frames")
        frames = f", {real} real frames" if real else ""
        errs = ", ".join(
            f"{k} p99 {v['p99']:.3g} {v['unit']}"
            for k, v in (rec.get("action_error") or {}).items()
        )
        bins = rec.get("identical_bins")
        verdict = "PASSED" if rec.get("passed") else "FAILED (" + "; ".join(rec["reasons"]) + ")"
        lines.append(
            f"validate {key}: {verdict} on {rec.get('samples')} observations{frames} vs "
            f"{(rec.get('reference') or {}).get('kind')}: {errs}"
            + (f", identical bins {bins:.2%}" if bins is not None else "")
            + f" ({rec.get('when')})"
        )
    return lines


def _graph_table(b) -> Table:
    table = Table("graph", "opset", "precision", "MB", "inputs -> outputs", box=None)
    for g in b.graphs:
        io = f"{_fmt(g['inputs'])}\n -> {_fmt(g['outputs'])}"
        table.add_row(
            g["file"],
            str(g.get("opset")),
            g.get("precision", "fp32"),
            f"{g.get('size', 0) / 1e6:.2f}",
            io,
        )
    return table


def _fmt(tensors: list[dict]) -> str:
    def dims(shape):
        return ",".join("B" if isinstance(d, str) else str(d) for d in shape)

    return " ".join(f"{t['name']}[{dims(t['shape'])}]{t['dtype']}" for t in tensors)


def parity_lines(parity: dict | None) -> list[str]:
    if not parity:
        return []
    real = parity.get("real_frames")
    frames = "" if real is None else f" ({real} real frames, {parity.get('source')})"
    lines = [
        f"parity {parity['candidate']} vs {parity['reference']} on {parity['samples']} samples"
        f"{frames}: " + ("PASS" if parity["passed"] else "FAIL")
    ]
    lines.append(
        "max abs error: " + ", ".join(f"{k} {v:.2e}" for k, v in parity["max_abs_error"].items())
    )
    lines.append(
        "action error (max): "
        + ", ".join(f"{k} {v['max']:.3g} {v['unit']}" for k, v in parity["action_error"].items())
    )
    if parity.get("identical_bins") is not None:
        lines.append(f"identical action bins: {parity['identical_bins']:.2%}")
    if parity.get("tokens"):  # a decoder LLM: its greedy decode against PyTorch's
        t = parity["tokens"]
        lines.append(
            f"identical token sequences: {t['identical_sequences']:.2%} of {t['samples']} "
            f"({t['tokens_per_sample']} tokens each; PyTorch greedy decode as reference)"
        )
    return lines


def eval_lines(evals: dict | None) -> list[str]:
    """Recorded closed-loop results, each ablation beside its plain result."""
    lines = []
    for suite, e in (evals or {}).items():
        lines.append(
            f"closed loop on {suite}: {e['success_rate']:.0%} ({e['successes']}/{e['episodes']}"
            f" episodes, {e['episodes_per_task']} per task, {e['backend']})"
        )
        for name, a in (e.get("ablations") or {}).items():
            lines.append(
                f"  ablation {name}: {a['success_rate']:.0%} ({a['successes']}/{a['episodes']}, "
                f"same seeds; {(a['success_rate'] - e['success_rate']) * 100:+.0f} points vs plain)"
            )
    return lines
