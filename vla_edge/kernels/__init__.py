"""vla-edge's own fused kernels (sources in kernels/): camera preprocessing and action decode.

Each has a NumPy reference, a host build of the CUDA math (ctypes, CPU) and a CUDA launcher.
Nothing here imports CUDA at import time; the libraries are compiled on first use.
"""

from vla_edge.kernels.action_decode import DecodeConfig, decode_host, decode_reference
from vla_edge.kernels.preprocess import PreprocessConfig, preprocess_host, preprocess_reference

__all__ = [
    "DecodeConfig",
    "PreprocessConfig",
    "decode_host",
    "decode_reference",
    "preprocess_host",
    "preprocess_reference",
]
