"""Distillation into smaller students (and the data/training pieces pruning recovery reuses)."""

from vla_edge.compress.distill.api import DistillConfig, compare, distill, split_holdout
from vla_edge.compress.distill.data import ArrayDemos, open_demos
from vla_edge.compress.distill.synthetic import synthetic_demos
from vla_edge.compress.distill.trainer import TrainConfig

__all__ = [
    "ArrayDemos",
    "DistillConfig",
    "TrainConfig",
    "compare",
    "distill",
    "open_demos",
    "split_holdout",
    "synthetic_demos",
]
