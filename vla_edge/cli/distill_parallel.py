"""`vla-edge distill AR_TEACHER --student-preset parallel`: the OpenVLA-OFT parallel student of a
decoder-LLM teacher (compress/distill/parallel.py)."""

from __future__ import annotations

from pathlib import Path

from vla_edge.cli.common import console, print_json
from vla_edge.errors import InputError


def run(
    teacher: Path,
    data: Path,
    output: Path,
    preset: str,
    steps: int,
    batch: int,
    lr: float,
    temperature: float,
    bc_weight: float,
    seed: int,
    export: Path | None,
    force: bool,
    json_out: bool,
    feature_cache: Path | None = None,
) -> None:
    from vla_edge.compress.distill.parallel import ParallelDistillConfig, distill_parallel

    if preset != "parallel":
        raise InputError(
            f"{teacher} is an autoregressive (decoder LLM) teacher: its student is "
            f"--student-preset parallel (one pass over learned action queries), not {preset!r}"
        )
    cfg = ParallelDistillConfig(
        steps=steps,
        batch=batch,
        lr=lr,
        temperature=temperature,
        bc_weight=bc_weight,
        seed=seed,
        feature_cache=str(feature_cache) if feature_cache else None,
    )
    result = distill_parallel(teacher, data, output, cfg, progress=not json_out)
    if export is not None:
        from vla_edge.export import ExportConfig, export_checkpoint

        result["bundle"] = str(export_checkpoint(output, export, ExportConfig(force=force)).path)
    if json_out:
        print_json(result)
        return
    b, a = result["held_out_before"], result["held_out_after"]
    console.print(f"wrote {result['checkpoint']} after {result['steps']} steps")
    console.print(
        f"  agreement with the teacher's greedy tokens on {a['frames']} held-out frames: "
        f"{b['identical_tokens']:.1%} -> {a['identical_tokens']:.1%} of tokens, "
        f"{b['identical_sequences']:.1%} -> {a['identical_sequences']:.1%} of sequences"
    )
    if "bundle" in result:
        console.print(f"  bundle {result['bundle']}")
