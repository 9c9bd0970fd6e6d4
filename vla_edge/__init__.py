"""vla-edge: put a trained Vision-Language-Action policy on a robot computer.

Importing this package is cheap: it loads neither torch, onnxruntime, TensorRT nor pycuda.
Heavy modules are imported by the functions that need them.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
