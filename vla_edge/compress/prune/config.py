"""Recipes for structured pruning and 2:4 sparsity (dataclass configs, checked on creation)."""

from __future__ import annotations

from dataclasses import dataclass, field

from vla_edge.compress.distill.trainer import TrainConfig
from vla_edge.errors import InputError

METHODS = ("taylor", "magnitude", "random")


@dataclass
class RecoverConfig:
    """Recovery fine-tune: the pruned model learns the parent's outputs (and, when the data has
    actions, the demonstrations) on demonstration frames."""

    temperature: float = 1.0
    feature_weight: float = 1.0
    bc_weight: float = 0.5
    train: TrainConfig = field(default_factory=lambda: TrainConfig(steps=300, lr=2e-4))


@dataclass
class PruneConfig:
    """`ratio`: fraction of attention heads and MLP channels removed in every vision and fusion
    block; or `target_latency_ms`: the least pruning (over width ratio, vision-token pooling and
    dropped vision blocks) whose per-frame graph meets the target under ONNX Runtime here.
    `sparsity="2:4"` then makes the linear layers 2:4 sparse (with or without structured
    pruning); the recovery fine-tune keeps the 2:4 masks."""

    ratio: float | None = None
    target_latency_ms: float | None = None
    method: str = "taylor"
    drop_vision_layers: int = 0
    drop_fusion_layers: int = 0
    token_pool: int = 1
    importance_batches: int = 8
    batch_size: int = 16
    channel_multiple: int = 8
    threads: int = 2
    seed: int = 0
    sparsity: str | None = None
    sparse_head: bool = False
    recover: RecoverConfig = field(default_factory=RecoverConfig)

    def __post_init__(self) -> None:
        if self.ratio is not None and self.target_latency_ms is not None:
            raise InputError("give one of --ratio R or --target-latency MS, not both")
        if self.ratio is None and self.target_latency_ms is None and self.sparsity is None:
            raise InputError("give --ratio R or --target-latency MS, and/or --sparsity 2:4")
        if self.sparsity not in (None, "2:4"):
            raise InputError(f"--sparsity supports '2:4' only, got {self.sparsity!r}")
        if self.ratio is not None and not 0.0 <= self.ratio < 1.0:
            raise InputError(f"--ratio is the fraction removed, in [0, 1); got {self.ratio}")
        if self.target_latency_ms is not None and self.target_latency_ms <= 0:
            raise InputError(f"--target-latency must be > 0 ms, got {self.target_latency_ms}")
        if self.method not in METHODS:
            raise InputError(f"--method must be one of {METHODS}, got {self.method!r}")
        if min(self.drop_vision_layers, self.drop_fusion_layers) < 0 or self.token_pool < 1:
            raise InputError("layer drops must be >= 0 and --token-pool >= 1")
