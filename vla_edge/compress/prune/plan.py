"""From importance scores to a PrunePlan: in every block keep the highest-scoring heads and MLP
channels (the same fraction in every block, so the per-frame cost drops predictably), and drop
the blocks whose ablation changed the readout features least."""

from __future__ import annotations

import torch

from vla_edge.compress.prune.structured import PrunePlan
from vla_edge.errors import InputError


def keep_count(n: int, ratio: float, multiple: int = 1) -> int:
    """How many of n units survive removing `ratio` of them: at least 1; a multiple of
    `multiple` when n allows (GEMM-friendly widths)."""
    k = round(n * (1.0 - ratio))
    if multiple > 1 and n >= 2 * multiple:
        k = max(multiple, int(round(k / multiple)) * multiple)
    return max(1, min(n, k))


def top(scores: torch.Tensor, k: int) -> list[int]:
    """Indices of the k largest scores, in ascending index order (keeps the weight layout)."""
    return sorted(torch.topk(scores, k).indices.tolist())


def drop_blocks(scores: list[float], drop: int, kind: str, keep_min: int = 1) -> list[int]:
    """Indices of the blocks kept after dropping the `drop` least important ones. Every vision
    block may go (patch embeddings then feed the fusion blocks directly); one fusion block must
    stay (it is what lets the action queries see the frame, instruction and state)."""
    if drop > len(scores) - keep_min:
        raise InputError(
            f"cannot drop {drop} of {len(scores)} {kind} blocks: keep at least {keep_min}"
        )
    order = sorted(range(len(scores)), key=lambda i: scores[i])
    return sorted(set(range(len(scores))) - set(order[:drop]))


def make_plan(
    scores: dict,
    blocks: dict[str, list[float]],
    ratio: float,
    drop_vision: int = 0,
    drop_fusion: int = 0,
    token_pool: int = 1,
    multiple: int = 8,
) -> PrunePlan:
    vis = drop_blocks(blocks["vision"], drop_vision, "vision", keep_min=0)
    fus = drop_blocks(blocks["fusion"], drop_fusion, "fusion")
    pick = lambda s, mult=1: top(s, keep_count(len(s), ratio, mult))  # noqa: E731
    return PrunePlan(
        vision_layers=vis,
        vision_heads=[pick(scores["vision_heads"][i]) for i in vis],
        vision_mlp=[pick(scores["vision_mlp"][i], multiple) for i in vis],
        fusion_layers=fus,
        fusion_heads=[[pick(h) for h in scores["fusion_heads"][i]] for i in fus],
        fusion_mlp=[pick(scores["fusion_mlp"][i], multiple) for i in fus],
        token_pool=token_pool,
    )


def random_scores(model, seed: int) -> dict:
    """Random importance of the same shapes (a baseline that importance must beat)."""
    gen = torch.Generator().manual_seed(seed)
    rand = lambda n: torch.rand(n, generator=gen)  # noqa: E731
    return {
        "vision_heads": [rand(b.attn.heads) for b in model.vision],
        "vision_mlp": [rand(b.mlp.fc1.out_features) for b in model.vision],
        "fusion_heads": [[rand(b.self_attn.heads), rand(b.cross_attn.heads)] for b in model.fusion],
        "fusion_mlp": [rand(b.mlp.fc1.out_features) for b in model.fusion],
    }
