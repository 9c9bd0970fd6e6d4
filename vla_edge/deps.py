"""Optional dependencies in one place.

`require("tensorrt", extra="trt")` imports a module or raises DependencyError with the exact
`pip install` command to run. `available("tensorrt")` answers without importing the module.
"""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType

from vla_edge.errors import DependencyError

# module name -> (extra that provides it, extra hint shown to the user)
KNOWN: dict[str, tuple[str, str]] = {
    "torch": ("export", "install the CPU wheel first: `pip install torch==2.13.0`"),
    "transformers": ("export", ""),
    "onnxscript": ("export", ""),
    "tqdm": ("export", ""),
    "tensorrt": (
        "trt",
        "on a Jetson, TensorRT comes with JetPack: `sudo apt install python3-libnvinfer`",
    ),
    "pycuda": ("trt", "pycuda needs the CUDA toolkit and a GPU driver"),
    "metaworld": ("sim", "Meta-World renders on the CPU with MUJOCO_GL=egl"),
    "mujoco": ("sim", ""),
    "cv2": ("camera", ""),
    "rclpy": ("ros", "rclpy comes from a ROS 2 install: `source /opt/ros/<distro>/setup.bash`"),
    "matplotlib": ("plot", ""),
    "imageio": ("sim", ""),
    "jtop": ("jetson", ""),
    "pynvml": ("gpu", "NVML comes with the NVIDIA driver"),
}


def available(module: str) -> bool:
    """True when `module` can be imported (checked without importing it)."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def require(module: str, extra: str | None = None, purpose: str = "") -> ModuleType:
    """Import `module` or raise DependencyError saying how to install it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        known_extra, hint = KNOWN.get(module, (None, ""))
        extra = extra or known_extra
        what = f" (needed to {purpose})" if purpose else ""
        fix = (
            f"install it with `pip install 'vla-edge[{extra}]'`"
            if extra
            else (f"install it with `pip install {module}`")
        )
        msg = f"{module} is not installed{what}: {fix}"
        if hint:
            msg += f"; {hint}"
        raise DependencyError(f"{msg}. (import error: {exc})") from exc


def missing_module_error(exc: ModuleNotFoundError) -> DependencyError | None:
    """A DependencyError with the install command when `exc` is about a known optional module
    (e.g. torch in a runtime-only install); None for anything else (a real bug)."""
    root = (exc.name or "").split(".")[0]
    if root not in KNOWN:
        return None
    extra, hint = KNOWN[root]
    msg = f"{root} is not installed: this command needs `pip install 'vla-edge[{extra}]'`"
    return DependencyError(f"{msg}; {hint}" if hint else msg)
