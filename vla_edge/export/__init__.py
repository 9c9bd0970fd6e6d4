"""torch -> ONNX export with verified parity, written as a bundle.

The names below load on first use, so that torch-free modules (the runtime, `validate`) can
import `vla_edge.export.samples` or `vla_edge.export.parity` without pulling in torch."""

from __future__ import annotations

import importlib
from typing import Any

_NAMES = {
    "ExportConfig": "vla_edge.export.api",
    "export_checkpoint": "vla_edge.export.api",
    "export_model": "vla_edge.export.api",
    "export_module": "vla_edge.export.api",
    "ParityConfig": "vla_edge.export.parity",
    "ParityReport": "vla_edge.export.parity",
    "compare": "vla_edge.export.parity",
}

__all__ = sorted(_NAMES)


def __getattr__(name: str) -> Any:
    if name not in _NAMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_NAMES[name]), name)
