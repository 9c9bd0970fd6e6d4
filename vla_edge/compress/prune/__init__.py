"""Structured pruning (heads, MLP channels, blocks, vision-token pooling) and 2:4 sparsity."""

from vla_edge.compress.prune.api import prune
from vla_edge.compress.prune.config import PruneConfig, RecoverConfig
from vla_edge.compress.prune.mark import export_compressed, mark_bundle
from vla_edge.compress.prune.structured import PrunePlan, apply_plan, identity_plan

__all__ = [
    "PrunePlan",
    "PruneConfig",
    "RecoverConfig",
    "apply_plan",
    "export_compressed",
    "identity_plan",
    "mark_bundle",
    "prune",
]
