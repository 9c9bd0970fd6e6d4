"""How much each prunable unit matters, measured on the model (and on demonstration data).

- magnitude: L1 norm of a unit's weights (a head: its q/k/v rows and `out` columns; an MLP
  channel: its fc1 row and bias and its fc2 column).
- taylor: first-order Taylor estimate of the loss change when the unit is removed,
  (sum over the unit's weights of w * dL/dw)^2, accumulated over demonstration batches of the
  behaviour-cloning loss (Molchanov et al., 2019, group Taylor).
- blocks (vision/fusion layers): measured by ablation, for either method: the mean squared change
  of the readout features on demonstration batches when the block is bypassed.
Scores are compared within a block (heads of one block, channels of one MLP).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from vla_edge.compress.distill.losses import readout
from vla_edge.errors import DataError

Scores = dict[str, list]


def _head_sums(attn, fn: Callable[[torch.nn.Parameter], torch.Tensor]) -> torch.Tensor:
    hd, h = attn.head_dim, attn.heads
    total = torch.zeros(h)
    for lin in (attn.q, attn.k, attn.v):
        total += fn(lin.weight).reshape(h, hd, -1).sum(dim=(1, 2))
        total += fn(lin.bias).reshape(h, hd).sum(dim=1)
    return total + fn(attn.out.weight).reshape(-1, h, hd).sum(dim=(0, 2))


def _mlp_sums(mlp, fn) -> torch.Tensor:
    return fn(mlp.fc1.weight).sum(1) + fn(mlp.fc1.bias) + fn(mlp.fc2.weight).sum(0)


def _unit_scores(model, fn) -> Scores:
    return {
        "vision_heads": [_head_sums(b.attn, fn) for b in model.vision],
        "vision_mlp": [_mlp_sums(b.mlp, fn) for b in model.vision],
        "fusion_heads": [
            [_head_sums(b.self_attn, fn), _head_sums(b.cross_attn, fn)] for b in model.fusion
        ],
        "fusion_mlp": [_mlp_sums(b.mlp, fn) for b in model.fusion],
    }


@torch.no_grad()
def magnitude_scores(model) -> Scores:
    return _unit_scores(model, lambda p: p.detach().abs())


def taylor_scores(model, batches) -> Scores:
    """Accumulate group Taylor scores over an iterable of collated batches (with actions)."""
    total: Scores | None = None
    model.train()
    for batch in batches:
        if batch.get("actions") is None:
            raise DataError(
                "Taylor importance needs demonstration actions and these samples have none: "
                "use --method magnitude, or demonstrations with actions"
            )
        model.zero_grad(set_to_none=True)
        loss = model.compute_loss(
            batch["images"],
            batch["input_ids"],
            batch["attention_mask"],
            batch["state"],
            batch["actions"],
        )
        loss.backward()
        with torch.no_grad():
            step = _unit_scores(model, _wg)
        step = _map(step, lambda t: t**2)
        total = step if total is None else _zip(total, step)
    model.zero_grad(set_to_none=True)
    model.eval()
    if total is None:
        raise DataError("no batches to measure Taylor importance on")
    return total


def _wg(p: torch.nn.Parameter) -> torch.Tensor:
    return p.detach() * (p.grad if p.grad is not None else torch.zeros_like(p))


def _map(scores: Scores, fn) -> Scores:
    return {k: [_apply(v, fn) for v in vals] for k, vals in scores.items()}


def _apply(v, fn):
    return [fn(x) for x in v] if isinstance(v, list) else fn(v)


def _zip(a: Scores, b: Scores) -> Scores:
    out: Scores = {}
    for k in a:
        out[k] = [
            [x + y for x, y in zip(u, v, strict=True)] if isinstance(u, list) else u + v
            for u, v in zip(a[k], b[k], strict=True)
        ]
    return out


@torch.no_grad()
def block_scores(model, batches) -> dict[str, list[float]]:
    """Ablation importance of every vision and fusion block (bigger = more needed)."""
    batches = list(batches)
    ref = [readout(model, b) for b in batches]
    out: dict[str, list[float]] = {"vision": [], "fusion": []}
    for kind in out:
        for block in getattr(model, kind):
            handle = block.register_forward_hook(lambda m, args, result: args[0])
            try:
                err = [
                    torch.mean((readout(model, b) - r) ** 2)
                    for b, r in zip(batches, ref, strict=True)
                ]
            finally:
                handle.remove()
            out[kind].append(float(torch.stack(err).mean()))
    return out
