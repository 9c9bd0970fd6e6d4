"""What a student learns from its teacher, per action head.

- bins: KL divergence between temperature-softened bin distributions, scaled by T^2 (Hinton).
- continuous: L1 between the standardized (pre-clamp) regression outputs.
- flow: the student's K'-step Euler integration from the fixed initial noise regresses onto the
  teacher's K-step result (both standardized): a few-step student of a many-step teacher.
Optional terms: feature matching (the student's readout features through a learned projection
onto the teacher's) and behaviour cloning on demonstration actions when the data has them.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


def readout(model, batch: dict, cache: dict | None = None) -> torch.Tensor:
    """Readout features [B, chunk, D] of a reference model on a batch. With `cache` (for a
    frozen text encoder), each distinct instruction is encoded once."""
    ids, mask = batch["input_ids"], batch["attention_mask"]
    emb = model.encode_instruction(ids, mask) if cache is None else _cached(model, ids, mask, cache)
    return model.features(batch["images"], emb, mask, batch["state"])


def _cached(model, ids: torch.Tensor, mask: torch.Tensor, cache: dict) -> torch.Tensor:
    keys = [row.numpy().tobytes() for row in ids]
    new: dict[bytes, int] = {}
    for i, k in enumerate(keys):
        if k not in cache and k not in new:
            new[k] = i
    if new:
        rows = list(new.values())
        with torch.no_grad():
            emb = model.encode_instruction(ids[rows], mask[rows])
        for j, k in enumerate(new):
            cache[k] = emb[j]
    return torch.stack([cache[k] for k in keys])


def flow_integrate(head, feats: torch.Tensor) -> torch.Tensor:
    """Standardized flow output (before de-standardizing and clamping), differentiable."""
    b = feats.shape[0]
    x = head.init_noise[None].expand(b, -1, -1)
    dt = 1.0 / head.steps
    for k in range(head.steps):
        t = torch.full((b, 1), k * dt, dtype=feats.dtype, device=feats.device)
        x = x + dt * head.velocity(feats, x, t)
    return x


def head_output(model, feats: torch.Tensor) -> torch.Tensor:
    """What the distillation loss compares: bin logits, or standardized actions."""
    kind = model.config.head
    if kind == "bins":
        return model.head.logits(feats)
    if kind == "continuous":
        return model.head.proj(feats)
    return flow_integrate(model.head, feats)


@dataclass
class Targets:
    output: torch.Tensor
    features: torch.Tensor


@torch.no_grad()
def teacher_targets(teacher, batch: dict, cache: dict | None = None) -> Targets:
    feats = readout(teacher, batch, cache)
    return Targets(head_output(teacher, feats), feats)


def output_loss(kind: str, student: torch.Tensor, teacher: torch.Tensor, temperature: float):
    if kind == "bins":
        t = temperature
        log_p = F.log_softmax(student / t, dim=-1)
        q = F.softmax(teacher / t, dim=-1)
        return F.kl_div(log_p, q, reduction="none").sum(-1).mean() * t * t
    if kind == "continuous":
        return F.l1_loss(student, teacher)
    return F.mse_loss(student, teacher)


class DistillObjective(nn.Module):
    """Student plus (optional) feature projection; forward returns the loss and its parts.
    DDP wraps this module, so the projection is trained data-parallel too."""

    def __init__(
        self,
        student,
        teacher_dim: int | None,
        temperature: float,
        feature_weight: float,
        bc_weight: float,
        text_cache: dict | None = None,
    ) -> None:
        super().__init__()
        self.student, self.text_cache = student, text_cache
        self.temperature, self.feature_weight, self.bc_weight = (
            temperature,
            feature_weight,
            bc_weight,
        )
        d = student.config.hidden_size
        self.proj = None
        if feature_weight > 0 and teacher_dim is not None:
            self.proj = nn.Identity() if teacher_dim == d else nn.Linear(d, teacher_dim)

    def forward(self, batch: dict, targets: Targets) -> tuple[torch.Tensor, dict[str, float]]:
        feats = readout(self.student, batch, self.text_cache)
        kind = self.student.config.head
        out = output_loss(kind, head_output(self.student, feats), targets.output, self.temperature)
        loss, parts = out, {"kd": float(out.detach())}
        if self.proj is not None:
            feat = F.mse_loss(self.proj(feats), targets.features)
            loss = loss + self.feature_weight * feat
            parts["feature"] = float(feat.detach())
        actions, keep = batch.get("actions"), batch.get("action_mask")
        if self.bc_weight > 0 and actions is not None:
            if keep is not None:  # a mixed batch: demonstration samples only
                feats, actions = feats[keep], actions[keep]
            bc = self.student.head.loss(feats, actions)
            loss = loss + self.bc_weight * bc
            parts["bc"] = float(bc.detach())
        return loss, parts


class BCObjective(nn.Module):
    """Behaviour cloning on demonstration actions only (no teacher), e.g. for a quick teacher
    on synthetic data; the sim/train package owns real training."""

    def __init__(self, student) -> None:
        super().__init__()
        self.student = student

    def forward(self, batch: dict, targets=None) -> tuple[torch.Tensor, dict[str, float]]:
        b = batch
        loss = self.student.compute_loss(
            b["images"], b["input_ids"], b["attention_mask"], b["state"], b["actions"]
        )
        return loss, {"bc": float(loss.detach())}
