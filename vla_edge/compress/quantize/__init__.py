"""Quantization that keeps the policy working: FP16, INT8 (static Q/DQ for TensorRT, dynamic for
the CPU), per-layer sensitivity and mixed precision under an action-error budget.

    from vla_edge.compress.quantize import QuantizeConfig, Budget, quantize
    quantize("exports/pick", "exports/pick-int8", QuantizeConfig(precision="int8", calib="demos/"))
"""

from vla_edge.compress.quantize.api import quantize
from vla_edge.compress.quantize.calibration import CalibrationSet, load_calibration
from vla_edge.compress.quantize.config import Budget, QuantizeConfig

__all__ = ["Budget", "CalibrationSet", "QuantizeConfig", "load_calibration", "quantize"]
