"""SessionFromOnnx: build an onnxruntime.InferenceSession with the asked providers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from vla_edge.errors import BackendError

PROVIDERS = {
    "cpu": "CPUExecutionProvider",
    "cuda": "CUDAExecutionProvider",
    "tensorrt": "TensorrtExecutionProvider",
}
OPT_LEVELS = ("disable", "basic", "extended", "all")


class SessionFromOnnx:
    """Callable loader: `SessionFromOnnx(path, providers=["cpu"])()` -> InferenceSession.

    `graph` is an .onnx path or an in-memory onnx.ModelProto (quantization candidates, graphs
    with extra outputs). `spinning=False` stops idle intra-op threads from spinning, so
    sessions timed side by side in one process do not take CPU from each other."""

    def __init__(
        self,
        graph: str | Path | Any,
        providers: list[str] | tuple[str, ...] = ("cpu",),
        threads: int | None = None,
        optimization: str = "all",
        spinning: bool = True,
    ) -> None:
        self.model = None if isinstance(graph, (str, Path)) else graph
        self.path = Path(graph) if self.model is None else Path("<in-memory graph>")
        self.providers = [PROVIDERS.get(p, p) for p in providers]
        self.threads, self.spinning = threads, spinning
        if optimization not in OPT_LEVELS:
            raise BackendError(f"optimization must be one of {OPT_LEVELS}, got {optimization!r}")
        self.optimization = optimization

    def __call__(self):
        import onnxruntime as ort

        available = ort.get_available_providers()
        missing = [p for p in self.providers if p not in available]
        if missing:
            raise BackendError(
                f"ONNX Runtime provider(s) {missing} requested but this onnxruntime "
                f"({ort.__version__}) has {available}. For CUDA/TensorRT install onnxruntime-gpu "
                "(not beside onnxruntime) on a machine with a GPU, or use --providers cpu"
            )
        if self.model is None and not self.path.is_file():
            raise BackendError(f"no ONNX file at {self.path}")
        src = str(self.path) if self.model is None else self.model.SerializeToString()
        try:
            return ort.InferenceSession(src, self._options(ort), providers=self.providers)
        except Exception as exc:  # onnxruntime raises its own exception types
            raise BackendError(f"ONNX Runtime could not load {self.path}: {exc}") from exc

    def _options(self, ort: Any) -> Any:
        opts = ort.SessionOptions()
        opts.graph_optimization_level = {
            "disable": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
            "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
            "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
            "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
        }[self.optimization]
        if self.threads:
            opts.intra_op_num_threads = self.threads
            opts.inter_op_num_threads = 1
        if not self.spinning:
            opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        opts.log_severity_level = 3
        return opts
