"""Stand-ins for TensorRT 10.3's Python API, pycuda and libcudart's graph calls, enough to drive
TensorRTRunner without a GPU: threads (which context is current where), exception paths, what
is freed, CUDA-graph capture. The fake engine computes y = 2 * x + 1 on a [B, 4] float input
through fake device memory, so data really flows host -> device -> host.

Every CUDA call checks that the runner's context is current *on the calling thread*, as the
driver API requires; a call without it raises FakeCudaError."""

from __future__ import annotations

import itertools
import threading
import types

import numpy as np

_ids = itertools.count(0x1000, 0x1000)


class FakeCudaError(RuntimeError):
    pass


class FakeCuda:
    """pycuda.driver: one device, a primary context, pinned/device memory, streams, copies."""

    def __init__(self) -> None:
        self.device_memory: dict[int, np.ndarray] = {}
        self.allocs: list[FakeAlloc] = []
        self.streams: list[FakeStream] = []
        self._stack = threading.local()
        self.host_alloc_flags = types.SimpleNamespace(DEVICEMAP=1)
        self.fail_alloc_after: int | None = None  # raise on the n-th device allocation
        cuda = self
        self.primary = FakeContext(self)

        class Context:
            @staticmethod
            def pop() -> None:
                stack = cuda.stack()
                if not stack:
                    raise FakeCudaError("cuCtxPopCurrent: no context is current on this thread")
                stack.pop()

        self.Context = Context

    # --- contexts ------------------------------------------------------------------------
    def stack(self) -> list:
        if not hasattr(self._stack, "items"):
            self._stack.items = []
        return self._stack.items

    def require_current(self, what: str) -> None:
        if not self.stack() or self.stack()[-1] is not self.primary:
            raise FakeCudaError(f"{what}: the runner's CUDA context is not current on this thread")

    def init(self) -> None:
        pass

    def Device(self, index: int):  # noqa: N802 - pycuda's name
        return types.SimpleNamespace(retain_primary_context=lambda: self.primary)

    # --- memory and streams --------------------------------------------------------------
    def pagelocked_empty(self, count: int, dtype, mem_flags: int = 0) -> np.ndarray:
        self.require_current("cuMemHostAlloc")
        host = FakeHost(count, dtype, self, mapped=bool(mem_flags))
        return host.array

    def mem_alloc(self, nbytes: int):
        self.require_current("cuMemAlloc")
        if self.fail_alloc_after is not None and len(self.allocs) >= self.fail_alloc_after:
            raise FakeCudaError("cuMemAlloc: out of memory")
        alloc = FakeAlloc(nbytes, self)
        self.allocs.append(alloc)
        return alloc

    def Stream(self):  # noqa: N802 - pycuda's name
        self.require_current("cuStreamCreate")
        stream = FakeStream(self)
        self.streams.append(stream.record)  # not the stream: the fake must not keep it alive
        return stream

    def memcpy_htod_async(self, dest, src: np.ndarray, stream) -> None:
        self.require_current("cuMemcpyHtoDAsync")
        mem = self.device_memory[int(dest)]
        mem[: src.nbytes] = np.ascontiguousarray(src).view(np.uint8).ravel()

    def memcpy_dtoh_async(self, dest: np.ndarray, src, stream) -> None:
        self.require_current("cuMemcpyDtoHAsync")
        raw = self.device_memory[int(src)][: dest.nbytes]
        dest.ravel()[:] = raw.view(dest.dtype)[: dest.size]

    @property
    def live_allocs(self) -> list:
        return [a for a in self.allocs if not a.freed]


class FakeContext:
    def __init__(self, cuda: FakeCuda) -> None:
        self.cuda = cuda

    def push(self) -> None:
        self.cuda.stack().append(self)


class FakeAlloc:
    def __init__(self, nbytes: int, cuda: FakeCuda) -> None:
        self.ptr, self.cuda, self.freed = next(_ids), cuda, False
        cuda.device_memory[self.ptr] = np.zeros(nbytes, np.uint8)

    def __int__(self) -> int:
        return self.ptr

    def free(self) -> None:
        self.cuda.require_current("cuMemFree")
        self.freed = True


class FakeHost:
    def __init__(self, count: int, dtype, cuda: FakeCuda, mapped: bool) -> None:
        self.cuda, self.freed = cuda, False
        self.array = np.zeros(count, dtype)
        self.ptr = next(_ids)
        if mapped:  # the device reads this host memory directly
            cuda.device_memory[self.ptr] = self.array.view(np.uint8)
        self.array = _HostArray(self.array, self)

    def get_device_pointer(self) -> int:
        return self.ptr

    def free(self) -> None:
        self.freed = True


class _HostArray(np.ndarray):
    """A numpy array whose `.base` is the pinned allocation, as pycuda's are."""

    def __new__(cls, array: np.ndarray, alloc: FakeHost):
        obj = array.view(cls)
        obj._alloc = alloc
        return obj

    def __array_finalize__(self, obj) -> None:
        self._alloc = getattr(obj, "_alloc", None)

    @property
    def base(self):  # noqa: D401 - numpy's attribute
        return self._alloc


class FakeStream:
    """Destroyed when the last reference goes (as pycuda's); `record` says when and how."""

    def __init__(self, cuda: FakeCuda) -> None:
        self.cuda, self.handle = cuda, next(_ids)
        self.record = types.SimpleNamespace(destroyed=False, destroyed_with_context=None)

    def synchronize(self) -> None:
        self.cuda.require_current("cuStreamSynchronize")

    def __del__(self) -> None:
        stack = self.cuda.stack()
        self.record.destroyed = True
        self.record.destroyed_with_context = bool(stack) and stack[-1] is self.cuda.primary


# --- tensorrt ------------------------------------------------------------------------------
class FakeTrt:
    """The tensorrt module: IO modes, nptype, plugin init, and one engine."""

    __version__ = "10.3.0"
    TensorIOMode = types.SimpleNamespace(INPUT="INPUT", OUTPUT="OUTPUT")

    def __init__(self, cuda: FakeCuda) -> None:
        self.cuda = cuda
        self.plugin_inits = 0
        self.fail_execute: set[str] = set()  # "plain" | "capture"
        self.contexts: list[FakeExecutionContext] = []

    def nptype(self, dtype):
        return dtype

    def init_libnvinfer_plugins(self, logger, namespace) -> bool:
        self.plugin_inits += 1
        return True

    def engine(self) -> FakeEngine:
        return FakeEngine(self)


class FakeEngine:
    IO = {"x": ("INPUT", np.float32, (-1, 4)), "y": ("OUTPUT", np.float32, (-1, 4))}

    def __init__(self, trt: FakeTrt) -> None:
        self.trt = trt
        self.num_io_tensors = len(self.IO)

    def get_tensor_name(self, i: int) -> str:
        return list(self.IO)[i]

    def get_tensor_mode(self, name: str) -> str:
        return self.IO[name][0]

    def get_tensor_dtype(self, name: str):
        return self.IO[name][1]

    def get_tensor_shape(self, name: str) -> tuple:
        return self.IO[name][2]

    def get_tensor_profile_shape(self, name: str, profile: int):
        return [(1, 4), (1, 4), (8, 4)]

    def create_execution_context(self) -> FakeExecutionContext:
        self.trt.cuda.require_current("createExecutionContext")
        ctx = FakeExecutionContext(self.trt)
        self.trt.contexts.append(ctx)
        return ctx


class FakeExecutionContext:
    def __init__(self, trt: FakeTrt) -> None:
        self.trt, self.shapes, self.addresses = trt, {}, {}
        self.executed_on: list[str] = []
        self.capturing = False

    def set_input_shape(self, name: str, shape) -> bool:
        if shape[0] > 8:
            return False
        self.shapes[name] = tuple(shape)
        return True

    def get_tensor_shape(self, name: str) -> tuple:
        return self.shapes.get("x", (8, 4))

    def set_tensor_address(self, name: str, ptr: int) -> bool:
        self.addresses[name] = ptr
        return True

    def execute_async_v3(self, stream_handle: int) -> bool:
        cuda = self.trt.cuda
        cuda.require_current("enqueueV3")
        kind = "capture" if self.capturing else "plain"
        if kind in self.trt.fail_execute:
            return False
        self.executed_on.append(threading.current_thread().name)
        n = int(np.prod(self.shapes["x"]))
        x = cuda.device_memory[self.addresses["x"]].view(np.float32)[:n]
        y = cuda.device_memory[self.addresses["y"]].view(np.float32)
        y[:n] = 2 * x + 1
        return True


class FakeCudart:
    """libcudart's stream-capture and graph calls (return codes as cudaError_t)."""

    def __init__(self, trt: FakeTrt) -> None:
        self.trt, self.calls = trt, []
        self.graphs_alive = 0
        self.execs_alive = 0

    def _ctx(self):
        return self.trt.contexts[-1]

    def cudaStreamBeginCapture(self, stream, mode) -> int:  # noqa: N802
        self.calls.append("begin")
        self._ctx().capturing = True
        return 0

    def cudaStreamEndCapture(self, stream, graph_ref) -> int:  # noqa: N802
        self.calls.append("end")
        ctx = self._ctx()
        failed = "capture" in self.trt.fail_execute
        ctx.capturing = False
        graph_ref._obj.value = None if failed else next(_ids)
        if not failed:
            self.graphs_alive += 1
        return 901 if failed else 0  # cudaErrorStreamCaptureInvalidated

    def cudaGraphInstantiate(self, exec_ref, graph, flags) -> int:  # noqa: N802
        self.calls.append("instantiate")
        exec_ref._obj.value = next(_ids)
        self.execs_alive += 1
        return 0

    def cudaGraphDestroy(self, graph) -> int:  # noqa: N802
        self.calls.append("destroy")
        self.graphs_alive -= 1
        return 0

    def cudaGraphExecDestroy(self, exec_) -> int:  # noqa: N802
        self.calls.append("exec_destroy")
        self.execs_alive -= 1
        return 0

    def cudaGraphLaunch(self, exec_, stream) -> int:  # noqa: N802
        self.calls.append("launch")
        self._ctx().execute_async_v3(0)
        return 0


def install(monkeypatch, machine=None):
    """Patch vla_edge.backends.trt.runner to use the fakes; returns (cuda, trt, cudart)."""
    from vla_edge.backends.trt import runner as runner_mod
    from vla_edge.backends.trt.sidecar import Machine

    cuda = FakeCuda()
    trt = FakeTrt(cuda)
    cudart = FakeCudart(trt)

    class EngineFromPath:
        def __init__(self, path, plugin_lib=None) -> None:
            self.path = path

        def __call__(self):
            cuda.require_current("deserializeCudaEngine")
            return object(), trt.engine()

    monkeypatch.setattr(runner_mod, "require_tensorrt", lambda: trt)
    monkeypatch.setattr(runner_mod, "_pycuda", lambda: cuda)
    monkeypatch.setattr(runner_mod, "_cudart", lambda: cudart)
    monkeypatch.setattr(runner_mod, "EngineFromPath", EngineFromPath)
    monkeypatch.setattr(runner_mod, "is_jetson", lambda: False)
    monkeypatch.setattr(
        runner_mod, "machine_info", lambda: machine or Machine("10.3.0", "8.7", "36.4.3")
    )
    return cuda, trt, cudart
