"""torch -> ONNX export with verified parity, written as a bundle."""

from vla_edge.export.api import ExportConfig, export_checkpoint, export_model, export_module
from vla_edge.export.parity import ParityConfig, ParityReport, compare

__all__ = [
    "ExportConfig",
    "ParityConfig",
    "ParityReport",
    "compare",
    "export_checkpoint",
    "export_model",
    "export_module",
]
