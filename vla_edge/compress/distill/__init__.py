"""Distillation into smaller students (and the data/training pieces pruning recovery reuses)."""

from vla_edge.compress.distill.api import DistillConfig, compare, distill, split_holdout
from vla_edge.compress.distill.data import ArrayDemos, open_demos
from vla_edge.compress.distill.foreign import BundleTeacher, Teacher, distill_foreign
from vla_edge.compress.distill.synthetic import synthetic_demos
from vla_edge.compress.distill.trainer import TrainConfig

__all__ = [
    "ArrayDemos",
    "BundleTeacher",
    "DistillConfig",
    "Teacher",
    "TrainConfig",
    "compare",
    "distill",
    "distill_foreign",
    "open_demos",
    "split_holdout",
    "synthetic_demos",
]
