"""Transformer building blocks that export cleanly to ONNX opset 17 and TensorRT 10.3.

Attention is written out (MatMul -> Softmax -> MatMul) so that quantizers see its MatMuls and
TensorRT's MHA fusion recognizes the pattern. Padding masks are additive and finite (-1e4), which
keeps FP16 and INT8 calibration (entropy/percentile) away from -inf.
"""

from __future__ import annotations

import math

import torch
from torch import nn

MASK_VALUE = -1.0e4


def additive_mask(mask: torch.Tensor) -> torch.Tensor:
    """[B, M] 1/0 key mask -> [B, 1, 1, M] additive float mask (0 keep, -1e4 drop)."""
    return (1.0 - mask.to(torch.float32))[:, None, None, :] * MASK_VALUE


class Attention(nn.Module):
    """`head_dim` is given when heads were pruned: q/k/v then project to heads * head_dim."""

    def __init__(self, dim: int, heads: int, head_dim: int | None = None) -> None:
        super().__init__()
        if head_dim is None and dim % heads:
            raise ValueError(f"hidden size {dim} must be divisible by heads {heads}")
        self.heads, self.head_dim = heads, head_dim or dim // heads
        inner = heads * self.head_dim
        self.q = nn.Linear(dim, inner)
        self.k = nn.Linear(dim, inner)
        self.v = nn.Linear(dim, inner)
        self.out = nn.Linear(inner, dim)

    def _split(self, x: torch.Tensor) -> torch.Tensor:
        b, n, _ = x.shape
        return x.reshape(b, n, self.heads, self.head_dim).transpose(1, 2)

    def forward(
        self, x: torch.Tensor, context: torch.Tensor, mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        q, k, v = self._split(self.q(x)), self._split(self.k(context)), self._split(self.v(context))
        scores = torch.matmul(q, k.transpose(-1, -2)) * (1.0 / math.sqrt(self.head_dim))
        if mask is not None:
            scores = scores + mask
        attn = torch.softmax(scores, dim=-1)
        y = torch.matmul(attn, v).transpose(1, 2)
        return self.out(y.reshape(x.shape[0], x.shape[1], -1))


class MLP(nn.Module):
    def __init__(self, dim: int, ratio: float, hidden: int | None = None) -> None:
        super().__init__()
        hidden = int(dim * ratio) if hidden is None else hidden
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class EncoderBlock(nn.Module):
    """Pre-LN self-attention block."""

    def __init__(
        self,
        dim: int,
        heads: int,
        mlp_ratio: float,
        head_dim: int | None = None,
        mlp_hidden: int | None = None,
    ) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, heads, head_dim)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = MLP(dim, mlp_ratio, mlp_hidden)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        h = self.norm1(x)
        x = x + self.attn(h, h, mask)
        return x + self.mlp(self.norm2(x))


class DecoderBlock(nn.Module):
    """Readout queries: self-attention, cross-attention to the fused context, MLP."""

    def __init__(
        self,
        dim: int,
        heads: int,
        mlp_ratio: float,
        head_dim: int | None = None,
        mlp_hidden: int | None = None,
        cross_heads: int | None = None,
    ) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.self_attn = Attention(dim, heads, head_dim)
        self.norm2 = nn.LayerNorm(dim)
        self.cross_attn = Attention(dim, heads if cross_heads is None else cross_heads, head_dim)
        self.norm3 = nn.LayerNorm(dim)
        self.mlp = MLP(dim, mlp_ratio, mlp_hidden)

    def forward(self, q: torch.Tensor, ctx: torch.Tensor, ctx_mask: torch.Tensor) -> torch.Tensor:
        h = self.norm1(q)
        q = q + self.self_attn(h, h)
        q = q + self.cross_attn(self.norm2(q), ctx, ctx_mask)
        return q + self.mlp(self.norm3(q))


class PatchEncoder(nn.Module):
    """ViT over one camera: uint8 NHWC in, normalization inside, patch tokens out.

    With `vision_token_pool` = s > 1, patch tokens (position embedding added) are average-pooled
    over s x s grid cells: s*s fewer vision tokens, same camera input size."""

    def __init__(self, cfg, height: int, width: int) -> None:
        super().__init__()
        p, d = cfg.patch_size, cfg.hidden_size
        if height % p or width % p:
            raise ValueError(f"camera size {height}x{width} is not divisible by patch size {p}")
        self.grid = (height // p, width // p)
        self.pool = getattr(cfg, "vision_token_pool", 1) or 1
        if self.grid[0] % self.pool or self.grid[1] % self.pool:
            raise ValueError(f"patch grid {self.grid} is not divisible by token pool {self.pool}")
        self.tokens = (self.grid[0] // self.pool) * (self.grid[1] // self.pool)
        self.patch = nn.Conv2d(3, d, kernel_size=p, stride=p)
        self.pos = nn.Parameter(torch.randn(1, self.grid[0] * self.grid[1], d) * 0.02)
        self.register_buffer("mean", torch.tensor(cfg.image_mean).view(1, 3, 1, 1) * 255.0)
        self.register_buffer(
            "inv_std", 1.0 / (torch.tensor(cfg.image_std).view(1, 3, 1, 1) * 255.0)
        )

    def folded(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The patch convolution with the pixel normalization folded in: weights [D, p*p*3]
        over patch pixels in (y, x, c) order, and bias + position embedding [1, T, D]."""
        p = self.patch.kernel_size[0]
        w = (self.patch.weight * self.inv_std.view(1, 3, 1, 1)).permute(0, 2, 3, 1)
        w = w.reshape(w.shape[0], -1)
        mean = self.mean.view(1, 3, 1, 1).expand(1, 3, p, p).permute(0, 2, 3, 1).reshape(-1, 1)
        return w, self.patch.bias - torch.matmul(w, mean)[:, 0] + self.pos

    def fold_for_export(self) -> None:
        """Freeze `folded()` into constants on this (copied) module, so the exported graph
        holds one weight matrix and one bias instead of the arithmetic that makes them."""
        with torch.no_grad():
            w, bias = (t.detach().clone() for t in self.folded())
        # persistent buffers, so the exporter writes initializers (quantizers look for weights
        # there); only export's throwaway copy carries them
        self.register_buffer("folded_weight", w)
        self.register_buffer("folded_bias", bias)

    def forward(self, frame: torch.Tensor) -> torch.Tensor:
        # The patch convolution as a reshape + matmul: Cast, Reshape, Transpose, Reshape, MatMul,
        # Add in the exported graph (no full-frame Sub/Mul/NCHW transpose, no Conv layout
        # reorders). Cast first: TensorRT has no UINT8 Shuffle.
        (gh, gw), p = self.grid, self.patch.kernel_size[0]
        x = frame.to(torch.float32).reshape(-1, gh, p, gw, p, 3)
        x = x.permute(0, 1, 3, 2, 4, 5).reshape(-1, gh * gw, p * p * 3)  # patch pixels (y, x, c)
        if "folded_weight" in self._buffers:
            w, bias = self.folded_weight, self.folded_bias
        else:
            w, bias = self.folded()
        x = torch.matmul(x, w.t()) + bias
        if self.pool == 1:
            return x
        grid = x.transpose(1, 2).reshape(-1, x.shape[2], self.grid[0], self.grid[1])
        pooled = nn.functional.avg_pool2d(grid, self.pool)
        return pooled.flatten(2).transpose(1, 2)


class TextEncoder(nn.Module):
    """A small transformer over token ids (used when no pretrained text encoder is given)."""

    def __init__(self, cfg) -> None:
        super().__init__()
        d = cfg.hidden_size
        self.embed = nn.Embedding(cfg.vocab_size, d)
        self.pos = nn.Parameter(torch.randn(1, cfg.max_tokens, d) * 0.02)
        self.blocks = nn.ModuleList(
            EncoderBlock(d, cfg.text_heads, cfg.mlp_ratio) for _ in range(cfg.text_layers)
        )
        self.norm = nn.LayerNorm(d)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        x = self.embed(input_ids) + self.pos[:, : input_ids.shape[1]]
        mask = additive_mask(attention_mask)
        for block in self.blocks:
            x = block(x, mask)
        return self.norm(x)


class PretrainedTextEncoder(nn.Module):
    """A transformers encoder (e.g. all-MiniLM-L6-v2's BertModel) + projection to hidden size."""

    def __init__(self, cfg) -> None:
        super().__init__()
        from transformers import AutoConfig, AutoModel

        text_cfg = AutoConfig.for_model(**cfg.text_config)
        self.encoder = AutoModel.from_config(text_cfg, attn_implementation="eager")
        self.proj = nn.Linear(text_cfg.hidden_size, cfg.hidden_size)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        out = self.encoder(input_ids=input_ids, attention_mask=attention_mask)
        return self.proj(out.last_hidden_state)


class MlpFusion(nn.Module):
    """Fusion without attention, for small students: flattened vision tokens, the mask-pooled
    instruction embedding and the projected state go through `layers` GELU layers to one readout
    feature per chunk step. Reshapes use -1 and static sizes, so the exported graph has no
    Shape/Gather chains: a handful of Gemm nodes where the attention fusion has ~100 small ones."""

    def __init__(
        self, dim: int, tokens: int, chunk: int, has_state: bool, layers: int, hidden: int
    ) -> None:
        super().__init__()
        if layers < 1:
            raise ValueError(f"an MLP fusion needs fusion_layers >= 1, got {layers}")
        self.tokens, self.dim, self.chunk = tokens, dim, chunk
        width = dim * (tokens + 1 + int(has_state))
        self.layers = nn.ModuleList(
            nn.Linear(width if i == 0 else hidden, hidden) for i in range(layers)
        )
        self.act = nn.GELU()
        self.out = nn.Linear(hidden, chunk * dim)

    def forward(
        self,
        vision: torch.Tensor,
        instruction: torch.Tensor,
        mask: torch.Tensor,
        state: torch.Tensor | None = None,
    ) -> torch.Tensor:
        m = mask.to(torch.float32)[:, :, None]
        text = (instruction * m).sum(1) / m.sum(1).clamp_min(1.0)
        parts = [vision.reshape(-1, self.tokens * self.dim), text]
        if state is not None:
            parts.append(state)
        h = torch.cat(parts, dim=-1)
        for layer in self.layers:
            h = self.act(layer(h))
        return self.out(h).reshape(-1, self.chunk, self.dim)
