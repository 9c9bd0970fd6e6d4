"""Action heads. Each maps readout features [B, chunk, D] to actions in physical units
[B, chunk, A], clamped to the action limits, and computes its training loss.

- `bins`: 256 bins per dimension over [low, high]; argmax + bin centre (RT-2 / OpenVLA).
- `continuous`: chunked regression of standardized actions (ACT-style).
- `flow`: flow matching; K Euler steps from a fixed noise sample (pi0 / Octo style). The noise is a
  buffer drawn once from a seeded generator, so inference is deterministic and exports verifiably.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class ActionHead(nn.Module):
    def __init__(self, cfg) -> None:
        super().__init__()
        action = cfg.spec["action"]
        norm = cfg.spec.get("normalization") or {}
        self.chunk, self.dim = action["chunk"], len(action["names"])
        self.register_buffer("low", torch.tensor(action["low"], dtype=torch.float32))
        self.register_buffer("high", torch.tensor(action["high"], dtype=torch.float32))
        mean = norm.get("action_mean") or [0.0] * self.dim
        std = norm.get("action_std") or [1.0] * self.dim
        self.register_buffer("act_mean", torch.tensor(mean, dtype=torch.float32))
        self.register_buffer("act_std", torch.tensor(std, dtype=torch.float32))

    def clamp(self, actions: torch.Tensor) -> torch.Tensor:
        return torch.minimum(torch.maximum(actions, self.low), self.high)

    def normalize(self, actions: torch.Tensor) -> torch.Tensor:
        return (actions - self.act_mean) / self.act_std

    def denormalize(self, z: torch.Tensor) -> torch.Tensor:
        return z * self.act_std + self.act_mean


class BinsHead(ActionHead):
    def __init__(self, cfg) -> None:
        super().__init__(cfg)
        self.bins = cfg.spec["action"]["bins"]
        self.proj = nn.Linear(cfg.hidden_size, self.dim * self.bins)

    def logits(self, feats: torch.Tensor) -> torch.Tensor:
        # -1 and the static chunk keep the exported graph free of Shape/Gather nodes
        return self.proj(feats).reshape(-1, self.chunk, self.dim, self.bins)

    def bin_index(self, actions: torch.Tensor) -> torch.Tensor:
        frac = (actions - self.low) / (self.high - self.low)
        return torch.clamp((frac * self.bins).floor().long(), 0, self.bins - 1)

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        idx = torch.argmax(self.logits(feats), dim=-1).to(torch.float32)
        return self.low + (idx + 0.5) * ((self.high - self.low) / self.bins)

    def loss(self, feats: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        logits = self.logits(feats)
        return F.cross_entropy(logits.reshape(-1, self.bins), self.bin_index(target).reshape(-1))


class ContinuousHead(ActionHead):
    def __init__(self, cfg) -> None:
        super().__init__(cfg)
        self.proj = nn.Linear(cfg.hidden_size, self.dim)

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        return self.clamp(self.denormalize(self.proj(feats)))

    def loss(self, feats: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.l1_loss(self.proj(feats), self.normalize(target))


def time_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    """Sinusoidal embedding of flow time t in [0, 1]: [B, 1] -> [B, dim]."""
    half = dim // 2
    freqs = torch.exp(
        torch.arange(half, dtype=torch.float32, device=t.device) * (-math.log(1000.0) / half)
    )
    angles = t * freqs[None, :] * 1000.0
    return torch.cat([torch.sin(angles), torch.cos(angles)], dim=-1)


class FlowHead(ActionHead):
    def __init__(self, cfg) -> None:
        super().__init__(cfg)
        d, h = cfg.hidden_size, cfg.flow_hidden
        self.steps, self.time_dim = cfg.flow_steps, 32
        self.net = nn.Sequential(
            nn.Linear(d + self.dim + self.time_dim, h),
            nn.GELU(),
            nn.Linear(h, h),
            nn.GELU(),
            nn.Linear(h, self.dim),
        )
        gen = torch.Generator().manual_seed(cfg.flow_noise_seed)
        self.register_buffer("init_noise", torch.randn(self.chunk, self.dim, generator=gen))

    def velocity(self, feats: torch.Tensor, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        temb = time_embedding(t, self.time_dim)[:, None, :].expand(-1, x.shape[1], -1)
        return self.net(torch.cat([feats, x, temb], dim=-1))

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        b = feats.shape[0]
        x = self.init_noise[None].expand(b, -1, -1)
        dt = 1.0 / self.steps
        for k in range(self.steps):  # unrolled: K Euler steps are part of the graph
            t = torch.full((b, 1), k * dt, dtype=feats.dtype, device=feats.device)
            x = x + dt * self.velocity(feats, x, t)
        return self.clamp(self.denormalize(x))

    def loss(self, feats: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        x1 = self.normalize(target)
        x0 = torch.randn_like(x1)
        t = torch.rand(x1.shape[0], 1, device=x1.device)
        xt = (1 - t[:, :, None]) * x0 + t[:, :, None] * x1
        return F.mse_loss(self.velocity(feats, xt, t), x1 - x0)


HEADS = {"bins": BinsHead, "continuous": ContinuousHead, "flow": FlowHead}
