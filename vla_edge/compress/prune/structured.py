"""Structured pruning surgery: a PrunePlan (which heads, MLP channels and blocks to keep, and
the vision-token pooling) turns a reference model into a physically smaller one.

The smaller model is built from a new VlaConfig (per-block head counts and MLP widths, fewer
blocks) and its weights are sliced from the parent, so `save_pretrained` / `from_pretrained`
rebuild exactly the pruned shapes and the export sees an ordinary, smaller model.
- heads: q/k/v output rows and `out` input columns of each removed head;
- MLP channels: fc1 rows (and bias) and fc2 columns;
- blocks: whole vision (encoder) or fusion (decoder) blocks, re-indexed;
- vision tokens: average pooling of s x s patch tokens inside the model (the camera input and
  the spec stay the same; patch embedding and position embedding are reused as they are).
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field

import torch

ATTN = ("attn", "self_attn", "cross_attn")


@dataclass
class PrunePlan:
    """Indices to keep, per block of the parent. Layer lists index the parent's blocks."""

    vision_layers: list[int]
    vision_heads: list[list[int]]  # per kept parent block index, in vision_layers order
    vision_mlp: list[list[int]]
    fusion_layers: list[int]
    fusion_heads: list[list[list[int]]]  # per kept block: [self heads, cross heads]
    fusion_mlp: list[list[int]]
    token_pool: int = 1
    notes: list[str] = field(default_factory=list)


def block_shapes(model) -> dict:
    """Current heads and MLP widths of every vision and fusion block."""
    return {
        "vision_heads": [b.attn.heads for b in model.vision],
        "vision_mlp": [b.mlp.fc1.out_features for b in model.vision],
        "fusion_heads": [[b.self_attn.heads, b.cross_attn.heads] for b in model.fusion],
        "fusion_mlp": [b.mlp.fc1.out_features for b in model.fusion],
    }


def identity_plan(model) -> PrunePlan:
    s = block_shapes(model)
    rng = lambda n: list(range(n))  # noqa: E731
    return PrunePlan(
        vision_layers=rng(len(model.vision)),
        vision_heads=[rng(h) for h in s["vision_heads"]],
        vision_mlp=[rng(m) for m in s["vision_mlp"]],
        fusion_layers=rng(len(model.fusion)),
        fusion_heads=[[rng(a), rng(b)] for a, b in s["fusion_heads"]],
        fusion_mlp=[rng(m) for m in s["fusion_mlp"]],
        token_pool=getattr(model.config, "vision_token_pool", 1) or 1,
    )


def pruned_config(model, plan: PrunePlan):
    cfg = copy.deepcopy(model.config)
    cfg.vision_layers = len(plan.vision_layers)
    cfg.fusion_layers = len(plan.fusion_layers)
    cfg.vision_block_heads = [len(h) for h in plan.vision_heads]
    cfg.vision_block_mlp = [len(m) for m in plan.vision_mlp]
    cfg.fusion_block_heads = [[len(a), len(b)] for a, b in plan.fusion_heads]
    cfg.fusion_block_mlp = [len(m) for m in plan.fusion_mlp]
    cfg.vision_token_pool = plan.token_pool
    # head_dim stays hidden_size // vision_heads (fusion_heads): the heads fields keep their
    # original values; the per-block lists say how many of them are left.
    return cfg


def apply_plan(model, plan: PrunePlan):
    """A new, smaller VlaForActions with the kept weights of `model`."""
    from vla_edge.policy.reference import VlaForActions

    cfg = pruned_config(model, plan)
    _check_head_dims(model, cfg)
    new = VlaForActions(cfg)
    old = model.state_dict()
    state = {k: _slice(k, old, plan, model) for k in new.state_dict()}
    new.load_state_dict(state)
    return new.eval()


def _check_head_dims(model, cfg) -> None:
    for blocks, heads in ((model.vision, cfg.vision_heads), (model.fusion, cfg.fusion_heads)):
        for b in blocks:
            attn = b.attn if hasattr(b, "attn") else b.self_attn
            if attn.head_dim != cfg.hidden_size // heads:
                raise ValueError("head size changed between parent and plan")


_BLOCK = re.compile(r"^(vision|fusion)\.(\d+)\.(.*)$")


def _slice(key: str, old: dict, plan: PrunePlan, model) -> torch.Tensor:
    m = _BLOCK.match(key)
    if not m:
        return old[key]
    kind, i, rest = m.group(1), int(m.group(2)), m.group(3)
    src = plan.vision_layers[i] if kind == "vision" else plan.fusion_layers[i]
    tensor = old[f"{kind}.{src}.{rest}"]
    part, _, leaf = rest.partition(".")
    if part in ATTN:
        heads = _heads(plan, kind, i, part)
        block = (model.vision if kind == "vision" else model.fusion)[src]
        return _slice_attn(tensor, leaf, heads, getattr(block, part).head_dim)
    if part == "mlp":
        keep = (plan.vision_mlp if kind == "vision" else plan.fusion_mlp)[i]
        return _slice_mlp(tensor, leaf, keep)
    return tensor


def _heads(plan: PrunePlan, kind: str, i: int, part: str) -> list[int]:
    if kind == "vision":
        return plan.vision_heads[i]
    return plan.fusion_heads[i][0 if part == "self_attn" else 1]


def _slice_attn(t: torch.Tensor, leaf: str, heads: list[int], head_dim: int) -> torch.Tensor:
    rows = torch.tensor([h * head_dim + j for h in heads for j in range(head_dim)])
    if leaf in ("q.weight", "k.weight", "v.weight", "q.bias", "k.bias", "v.bias"):
        return t.index_select(0, rows)
    if leaf == "out.weight":
        return t.index_select(1, rows)
    return t  # out.bias


def _slice_mlp(t: torch.Tensor, leaf: str, keep: list[int]) -> torch.Tensor:
    idx = torch.tensor(keep, dtype=torch.long)
    if leaf in ("fc1.weight", "fc1.bias"):
        return t.index_select(0, idx)
    if leaf == "fc2.weight":
        return t.index_select(1, idx)
    return t  # fc2.bias
