"""TensorRTRunner: run a TensorRT engine (TensorRT 10.3 + pycuda) behind the Runner interface.

- refuses an engine whose sidecar does not match this machine (TensorRT version, compute
  capability, L4T, and the device/GPU model it was built on), with the command that rebuilds it;
- the CUDA context (the device's primary context) is made current on the calling thread for
  every activate / infer / deactivate and released after, so inference may run on another thread
  than the one that activated the runner (`--chunking async|rtc` infers on a worker thread);
  calls are serialized by a lock (one execution context, one stream);
- memory: pinned host buffers + device buffers with async copies, or, on a Jetson (CPU and GPU
  share DRAM), mapped zero-copy host buffers the engine reads and writes directly;
- one CUDA stream; `execute_async_v3`; optional CUDA graph capture of the enqueue (re-captured
  when input shapes change) through libcudart's stream-capture calls; a failed capture is ended
  and its graph freed before the error is raised;
- a failed activation frees what it had taken (buffers, stream, context) and leaves no context
  pushed; deactivation frees the stream and every buffer.
Buffers are sized for the largest shapes of the engine's optimization profile.
"""

from __future__ import annotations

import contextlib
import ctypes
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from vla_edge.backends.base import Runner, TensorMeta
from vla_edge.backends.trt.loader import EngineFromPath, plugin_library, require_tensorrt
from vla_edge.backends.trt.sidecar import Sidecar, machine_info, require_match, sidecar_path
from vla_edge.errors import BackendError, DependencyError

CAPTURE_RELAXED = 2  # cudaStreamCaptureModeRelaxed


def _pycuda() -> Any:
    try:
        import pycuda.driver as cuda
    except ImportError as exc:
        raise DependencyError(
            "pycuda is not installed (needed by the TensorRT runner): `pip install "
            f"'vla-edge[trt]'` on the Orin, where it builds against CUDA 12.6 ({exc})"
        ) from exc
    return cuda


def is_jetson() -> bool:
    return Path("/etc/nv_tegra_release").is_file()


class _Binding:
    """Host + device memory of one IO tensor, sized for its largest shape."""

    def __init__(self, cuda: Any, name: str, dtype: np.dtype, max_shape: tuple, mapped: bool):
        self.name, self.dtype, self.mapped = name, dtype, mapped
        count = int(np.prod(max_shape)) or 1
        self.device = None
        if mapped:  # zero-copy: the GPU reads/writes this pinned host memory directly
            self.host = cuda.pagelocked_empty(
                count, dtype, mem_flags=cuda.host_alloc_flags.DEVICEMAP
            )
            self.device_ptr = int(self.host.base.get_device_pointer())
        else:
            self.host = cuda.pagelocked_empty(count, dtype)
            self.device = cuda.mem_alloc(self.host.nbytes)
            self.device_ptr = int(self.device)

    def view(self, shape: tuple) -> np.ndarray:
        return self.host[: int(np.prod(shape))].reshape(shape)

    def free(self) -> None:
        if self.device is not None:
            self.device.free()
            self.device = None
        base = getattr(self.host, "base", None)
        if base is not None and hasattr(base, "free"):
            base.free()


class TensorRTRunner(Runner):
    name = "trt"

    def __init__(
        self,
        engine_path: str | Path,
        bundle_path: str | Path | None = None,
        *,
        cuda_graph: bool = False,
        zero_copy: bool | None = None,
        plugin_lib: str | Path | None = None,
        check_sidecar: bool = True,
    ) -> None:
        super().__init__()
        self.engine_path = Path(engine_path)
        self.bundle_path = Path(bundle_path) if bundle_path else self.engine_path.parent.parent
        self.cuda_graph, self.zero_copy = cuda_graph, zero_copy
        self.plugin_lib, self.check_sidecar = plugin_lib, check_sidecar
        self.engine = self.context = self.stream = self._runtime = None
        self._cuda_ctx = None
        self._graph_exec = None
        self._bindings: dict[str, _Binding] = {}
        self._io: dict[str, tuple[str, np.dtype, tuple]] = {}
        self._shapes: dict[str, tuple] = {}
        self._lock = threading.Lock()

    # --- CUDA context -------------------------------------------------------------------------
    @contextlib.contextmanager
    def _current(self) -> Iterator[Any]:
        """Make the runner's context current on this thread for the block, then release it."""
        cuda = _pycuda()
        self._cuda_ctx.push()
        try:
            yield cuda
        finally:
            cuda.Context.pop()

    # --- lifecycle ----------------------------------------------------------------------------
    def _activate_impl(self) -> None:
        trt, cuda = require_tensorrt(), _pycuda()
        if self.check_sidecar:
            require_match(
                Sidecar.load(sidecar_path(self.engine_path)), machine_info(), self.bundle_path
            )
        cuda.init()
        self._cuda_ctx = cuda.Device(0).retain_primary_context()
        try:
            with self._current():
                self._load(trt, cuda)
        except BaseException:
            self._release()
            raise

    def _load(self, trt: Any, cuda: Any) -> None:
        self._runtime, self.engine = EngineFromPath(
            self.engine_path, plugin_library(self.plugin_lib)
        )()
        self.context = self.engine.create_execution_context()
        if self.context is None:
            raise BackendError(
                f"TensorRT could not create an execution context for {self.engine_path.name} "
                "(out of GPU memory?)"
            )
        self.stream = cuda.Stream()
        mapped = is_jetson() if self.zero_copy is None else self.zero_copy
        self._io = self._io_tensors(trt)
        for n, (mode, dt, _s) in self._io.items():
            self._bindings[n] = _Binding(cuda, n, dt, self._max_shape(n, mode), mapped)
        for name, binding in self._bindings.items():
            if not self.context.set_tensor_address(name, binding.device_ptr):
                raise BackendError(f"TensorRT refused the buffer address of {name!r}")

    def _io_tensors(self, trt: Any) -> dict[str, tuple[str, np.dtype, tuple]]:
        out = {}
        for i in range(self.engine.num_io_tensors):
            name = self.engine.get_tensor_name(i)
            mode = (
                "input" if self.engine.get_tensor_mode(name) == trt.TensorIOMode.INPUT else "output"
            )
            dtype = np.dtype(trt.nptype(self.engine.get_tensor_dtype(name)))
            out[name] = (mode, dtype, tuple(self.engine.get_tensor_shape(name)))
        return out

    def _max_shape(self, name: str, mode: str) -> tuple:
        shape = self._io[name][2]
        if all(d >= 0 for d in shape):
            return shape
        if mode == "input":
            return tuple(self.engine.get_tensor_profile_shape(name, 0)[2])
        for inp, (m, _dt, s) in self._io.items():  # outputs: set every input to its max
            if m == "input" and any(d < 0 for d in s):
                self.context.set_input_shape(
                    inp, tuple(self.engine.get_tensor_profile_shape(inp, 0)[2])
                )
        self._shapes.clear()  # the next infer sets its own shapes
        return tuple(self.context.get_tensor_shape(name))

    def _input_metadata_impl(self) -> list[TensorMeta]:
        return [
            TensorMeta(n, dt, tuple(d if d >= 0 else None for d in s))
            for n, (mode, dt, s) in self._io.items()
            if mode == "input"
        ]

    def _deactivate_impl(self) -> None:
        self._release()

    def _release(self) -> None:
        """Free the graph, buffers, stream, context and engine (with the CUDA context current),
        then release the CUDA context. Safe on a half-made activation."""
        if self._cuda_ctx is not None:
            with self._current():
                self._free_graph()
                for binding in self._bindings.values():
                    binding.free()
                self._bindings = {}
                self.stream = None  # pycuda destroys the stream here, its context current
                self.context = self.engine = self._runtime = None
        self._shapes, self._io = {}, {}
        self._cuda_ctx = None  # releases the retained primary context

    # --- inference ----------------------------------------------------------------------------
    def _infer_impl(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        with self._lock, self._current() as cuda:
            changed = self._set_shapes(feeds)
            for name, array in feeds.items():
                b = self._bindings[name]
                np.copyto(b.view(array.shape), array, casting="no")
                if not b.mapped:
                    cuda.memcpy_htod_async(b.device, b.view(array.shape), self.stream)
            self._enqueue(changed)
            outputs = {}
            for name, (mode, _dt, _s) in self._io.items():
                if mode != "output":
                    continue
                b, shape = self._bindings[name], tuple(self.context.get_tensor_shape(name))
                if not b.mapped:
                    cuda.memcpy_dtoh_async(b.view(shape), b.device, self.stream)
                outputs[name] = shape
            self.stream.synchronize()
            return {n: self._bindings[n].view(s).copy() for n, s in outputs.items()}

    def _set_shapes(self, feeds: dict[str, np.ndarray]) -> bool:
        changed = False
        for name, array in feeds.items():
            if self._shapes.get(name) != array.shape:
                if not self.context.set_input_shape(name, array.shape):
                    raise BackendError(
                        f"shape {list(array.shape)} of {name!r} is outside the "
                        "engine's optimization profile: rebuild with a larger "
                        "--max-batch"
                    )
                self._shapes[name] = array.shape
                changed = True
        return changed

    def _execute(self) -> None:
        if not self.context.execute_async_v3(self.stream.handle):
            raise BackendError(
                f"TensorRT execute_async_v3 failed on {self.engine_path.name} (see the TensorRT "
                "log above)"
            )

    def _enqueue(self, shapes_changed: bool) -> None:
        if not self.cuda_graph:
            self._execute()
            return
        if shapes_changed or self._graph_exec is None:
            self._capture()
        _check_cuda(
            _cudart().cudaGraphLaunch(self._graph_exec, ctypes.c_void_p(self.stream.handle)),
            "cudaGraphLaunch",
        )

    def _capture(self) -> None:
        """Capture execute_async_v3 into a CUDA graph (after one plain run, as TensorRT asks:
        the first enqueue after a shape change may allocate). The capture is always ended; on
        any failure the partial graph is destroyed and the error raised."""
        self._free_graph()
        self._execute()
        self.stream.synchronize()
        lib, stream = _cudart(), ctypes.c_void_p(self.stream.handle)
        graph, exec_ = ctypes.c_void_p(), ctypes.c_void_p()
        _check_cuda(lib.cudaStreamBeginCapture(stream, CAPTURE_RELAXED), "cudaStreamBeginCapture")
        try:
            ok = self.context.execute_async_v3(self.stream.handle)
        finally:
            ended = lib.cudaStreamEndCapture(stream, ctypes.byref(graph))
        try:
            if not ok:
                raise BackendError(
                    f"TensorRT execute_async_v3 failed while capturing a CUDA graph of "
                    f"{self.engine_path.name}: this engine cannot be captured; run without "
                    "--cuda-graph"
                )
            _check_cuda(ended, "cudaStreamEndCapture")
            _check_cuda(
                lib.cudaGraphInstantiate(ctypes.byref(exec_), graph, ctypes.c_ulonglong(0)),
                "cudaGraphInstantiate",
            )
        finally:
            if graph.value:
                lib.cudaGraphDestroy(graph)
        self._graph_exec = exec_

    def _free_graph(self) -> None:
        if self._graph_exec is not None:
            _cudart().cudaGraphExecDestroy(self._graph_exec)
            self._graph_exec = None


def _cudart() -> Any:
    from vla_edge.kernels.cudart import cudart

    lib = cudart()
    if lib is None:
        raise DependencyError("libcudart not found: CUDA graphs need the CUDA runtime")
    return lib


def _check_cuda(code: int, what: str) -> None:
    if code != 0:
        raise BackendError(f"{what} failed with cudaError {code}; run without --cuda-graph")
