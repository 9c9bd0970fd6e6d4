"""ONNX Runtime backend (CPU; CUDA and TensorRT execution providers when present)."""

from vla_edge.backends.onnxrt.loader import PROVIDERS, SessionFromOnnx
from vla_edge.backends.onnxrt.runner import OnnxRuntimeRunner

__all__ = ["PROVIDERS", "OnnxRuntimeRunner", "SessionFromOnnx"]
