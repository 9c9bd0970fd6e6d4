"""2:4 semi-structured sparsity for Orin's sparse tensor cores: in every group of 4 consecutive
weights along a linear layer's input dimension, the 2 largest by magnitude are kept and the
other 2 are zero. TensorRT picks sparse kernels for such weights when built with
SPARSE_WEIGHTS (`vla-edge build --sparsity`)."""

from __future__ import annotations

import torch
from torch import nn

PATTERN = "2:4"


def sparse_linears(model, include_head: bool = False, include_text: bool = False) -> dict:
    """Linear layers to sparsify: every one in the vision and fusion blocks (plus the action
    head / text encoder when asked) whose input size is a multiple of 4."""
    prefixes = ["vision.", "fusion."] + (["head."] if include_head else [])
    prefixes += ["text."] if include_text else []
    return {
        name: mod
        for name, mod in model.named_modules()
        if isinstance(mod, nn.Linear)
        and any(name.startswith(p) for p in prefixes)
        and mod.in_features % 4 == 0
    }


def mask_24(weight: torch.Tensor) -> torch.Tensor:
    """Boolean mask keeping the 2 largest |w| of every 4 along the input (last) dimension."""
    out_f, in_f = weight.shape
    groups = weight.detach().abs().reshape(out_f, in_f // 4, 4)
    keep = torch.topk(groups, 2, dim=-1).indices
    mask = torch.zeros_like(groups, dtype=torch.bool).scatter_(-1, keep, True)
    return mask.reshape(out_f, in_f)


@torch.no_grad()
def apply_24(layers: dict) -> dict[str, torch.Tensor]:
    """Zero the pruned weights in place; returns the masks (to re-apply during fine-tuning)."""
    masks = {}
    for name, lin in layers.items():
        masks[name] = mask_24(lin.weight)
        lin.weight.mul_(masks[name])
    return masks


class MaskKeeper:
    """After every optimizer step, zero the masked weights again (masked fine-tune)."""

    def __init__(self, layers: dict, masks: dict[str, torch.Tensor]) -> None:
        self.layers, self.masks = layers, masks

    @torch.no_grad()
    def __call__(self, *_: object) -> None:
        for name, lin in self.layers.items():
            lin.weight.mul_(self.masks[name])


def is_24(weight: torch.Tensor) -> bool:
    """At most 2 non-zeros in every group of 4 along the input dimension."""
    out_f, in_f = weight.shape
    if in_f % 4:
        return False
    nonzero = (weight.detach().reshape(out_f, in_f // 4, 4) != 0).sum(-1)
    return bool((nonzero <= 2).all())


def sparsity_report(layers: dict) -> dict:
    weights = [lin.weight for lin in layers.values()]
    total = sum(w.numel() for w in weights)
    zeros = sum(int((w == 0).sum()) for w in weights)
    return {
        "pattern": PATTERN,
        "layers": sorted(layers),
        "weights": total,
        "zero_fraction": zeros / total if total else 0.0,
        "all_2_4": all(is_24(w) for w in weights),
    }
