"""The decode roofline at OpenVLA-7B size on Jetson Orins, beside NVIDIA's published figures.

OpenVLA-7B: Llama-2-7B decoder (32 layers, hidden 4096, MLP 11008, 32 heads, no GQA, vocabulary
32064, the full LM head computed per token as transformers' generate does), a DINOv2-L/14 +
SigLIP-So400m/14 fused vision tower (~0.7B parameters, 256 patches at 224 px), a prompt of
256 vision tokens + ~24 text tokens, 7 action tokens. Weight precisions 16 / 8 / 4 bits stand for
the published FP16 / FP8 / INT4 rows (the Orin's sm_87 has no FP8 tensor cores: an 8-bit
deployment there is weight-only, which is what this model costs).

    python benchmarks/openvla_orin_roofline.py --out benchmarks/results/openvla7b_orin_roofline
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from vla_edge.bench.devices import get_device
from vla_edge.bench.estimate import JETSON_EFFICIENCY
from vla_edge.bench.llm import DecoderShape, action

# Per action on a Jetson AGX Orin 64GB, as issue #17 quotes NVIDIA's Jetson AI Lab (not re-measured)
PUBLISHED_AGX_MS = {16: 840, 8: 471, 4: 336}
LLAMA2_7B = dict(layers=32, hidden=4096, intermediate=11008, heads=32, kv_heads=32)
VISION_PARAMS, PATCHES, PROMPT, TOKENS = 700_000_000, 256, 280, 7


def rows(devices: list[str]) -> list[dict]:
    out = []
    for name in devices:
        dev = get_device(name)
        for head_rows, label in ((32064, "full LM head"), (256, "action-slice head")):
            shape = DecoderShape(**LLAMA2_7B, head_rows=head_rows, name="llama-2-7b")
            for bits in (16, 8, 4):
                est = action(
                    shape,
                    dev,
                    JETSON_EFFICIENCY,
                    prompt=PROMPT,
                    tokens=TOKENS,
                    vision_params=VISION_PARAMS,
                    patches=PATCHES,
                    weight_bits=bits,
                )
                est.update(
                    head=label,
                    published_ms=PUBLISHED_AGX_MS.get(bits)
                    if dev.name == "orin-agx-64gb" and head_rows == 32064
                    else None,
                )
                out.append(est)
    return out


def markdown(table: list[dict], command: str) -> str:
    lines = [
        "# OpenVLA-7B on Jetson Orins: decode roofline (ESTIMATE) vs published",
        "",
        f"Command: `{command}`",
        "",
        "Model: `vla_edge.bench.llm` (a decode step reads every decoder weight once and the KV "
        "cache; prefill and vision compute-bound at FP16 tensor-core peak x 0.6; memory at "
        "data-sheet bandwidth x 0.75; 5 us per kernel, 12 kernels per layer). Efficiency "
        "factors are the project's uncalibrated Jetson assumptions.",
        "",
        "| device | LM head | weights | vision ms | prefill ms | per token ms | tokens | "
        "per action ms | published ms | estimate / published |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in table:
        pub = r["published_ms"]
        ratio = f"{r['per_action_ms'] / pub:.2f}" if pub else "-"
        lines.append(
            f"| {r['device']} | {r['head']} | {r['weight_bits']}-bit | {r['vision_ms']:.0f} | "
            f"{r['prefill_ms']:.0f} | {r['per_token_ms']:.1f} | {r['tokens']} | "
            f"{r['per_action_ms']:.0f} | {pub or '-'} | {ratio} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--devices", default="orin-agx-64gb,orin-nx-16gb,orin-nano-8gb")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    table = rows(args.devices.split(","))
    command = "python benchmarks/openvla_orin_roofline.py" + (
        f" --out {args.out}" if args.out else ""
    )
    text = markdown(table, command)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.with_suffix(".md").write_text(text)
        args.out.with_suffix(".json").write_text(json.dumps(table, indent=2) + "\n")


if __name__ == "__main__":
    main()
