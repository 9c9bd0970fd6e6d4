"""INT8: activation calibration for static Q/DQ graphs, and dynamic INT8 for the CPU.

Calibration runs the FP32 graph on calibration batches with onnxruntime's calibrators
(MinMax, Entropy, Percentile) and keeps, for each activation that feeds a weighted layer, a
symmetric range (the larger of |min| and |max|).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from vla_edge.compress.quantize.graphs import Layer
from vla_edge.errors import CalibrationError, QuantizationError

METHODS = {"minmax": "MinMax", "entropy": "Entropy", "percentile": "Percentile"}
METHOD_OPTIONS = {
    "minmax": {},
    "entropy": {"symmetric": True, "num_bins": 512, "num_quantized_bins": 128},
    "percentile": {"symmetric": True, "num_bins": 2048, "percentile": 99.99},
}


def _reader(feeds: list[dict[str, np.ndarray]]):
    """An onnxruntime CalibrationDataReader over a list of feed dicts."""
    from onnxruntime.quantization import CalibrationDataReader

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.it = iter(feeds)

        def get_next(self):
            return next(self.it, None)

        def __len__(self) -> int:
            return len(feeds)

    return Reader()


def calibrate(
    model_path: Path, feeds: list[dict[str, np.ndarray]], layers: list[Layer], method: str
) -> dict[str, float]:
    """Symmetric absolute range of every activation input of the given layers."""
    from onnxruntime.quantization import CalibrationMethod
    from onnxruntime.quantization.calibrate import create_calibrator

    if not feeds:
        raise CalibrationError("no calibration batches: give at least one calibration sample")
    reader = _reader(feeds)
    with tempfile.TemporaryDirectory(prefix="vla-calib-") as tmp:
        calibrator = create_calibrator(
            Path(model_path),
            ["MatMul", "Gemm", "Conv"],
            augmented_model_path=str(Path(tmp) / "augmented.onnx"),
            calibrate_method=getattr(CalibrationMethod, METHODS[method]),
            extra_options=METHOD_OPTIONS[method],
        )
        try:
            calibrator.collect_data(reader)
            ranges = calibrator.compute_data()
        except Exception as exc:  # onnxruntime raises plain exceptions
            raise CalibrationError(f"{method} calibration failed: {exc}") from exc
    return _absmax(ranges, layers, model_path)


def _absmax(ranges, layers: list[Layer], model_path: Path) -> dict[str, float]:
    import onnx

    model = onnx.load(str(model_path), load_external_data=False)
    first_input = {n.name: n.input[0] for n in model.graph.node if n.input}
    out = {}
    for layer in layers:
        for node in layer.nodes:
            tensor = first_input[node]
            if tensor not in ranges.data:
                raise CalibrationError(f"calibration produced no range for `{tensor}` ({node})")
            lo, hi = ranges.data[tensor].range_value
            out[tensor] = float(max(abs(np.min(lo)), abs(np.max(hi))))
            if not np.isfinite(out[tensor]):
                raise CalibrationError(
                    f"calibrated range of `{tensor}` ({node}) is not finite: the FP32 graph "
                    "overflows on the calibration data; check the frames"
                )
    return out


def quantize_dynamic(model_path: Path, out: Path, layers: list[Layer]) -> None:
    """Weights INT8 per channel, activations quantized at run time (CPU; not for TensorRT)."""
    from onnxruntime.quantization import QuantType
    from onnxruntime.quantization import quantize_dynamic as ort_dynamic

    nodes = [n for layer in layers if layer.op_type != "Conv" for n in layer.nodes]
    if not nodes:
        import shutil

        shutil.copyfile(model_path, out)
        return
    try:
        ort_dynamic(
            str(model_path),
            str(out),
            per_channel=True,
            weight_type=QuantType.QInt8,
            nodes_to_quantize=nodes,
            op_types_to_quantize=["MatMul", "Gemm"],
        )
    except Exception as exc:  # onnxruntime raises plain exceptions
        raise QuantizationError(f"dynamic INT8 quantization failed: {exc}") from exc
