"""PyTorch backend: runs the same graph modules that are exported, eagerly."""

from vla_edge.backends.torch.loader import ModelFromCheckpoint, graph_input_meta
from vla_edge.backends.torch.runner import TorchRunner

__all__ = ["ModelFromCheckpoint", "TorchRunner", "graph_input_meta"]
