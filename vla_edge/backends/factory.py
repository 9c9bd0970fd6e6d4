"""`runner_for`: the one place vla-edge gets a Runner to execute a graph.

Export parity, quantize evaluation and sensitivity, prune's latency search, the estimator's
shape probe and calibration, benchmark, eval, the control loop and `validate` all obtain their
runners here and then talk to `Runner` only (activate / infer / deactivate, own timing):

    runner_for(bundle, "policy", "trt", RunnerOptions(cuda_graph=True))  # a bundle's graph
    runners_for(bundle, "onnxrt", RunnerOptions(threads=1))              # every graph, by role
    runner_for("graph.onnx") / runner_for(model_proto)                   # one ONNX graph (ORT)
    runner_for(graph_spec, backend="torch")                              # a torch graph module

Nothing here imports onnxruntime, torch or tensorrt: each backend is imported when a runner of
it is made, and its libraries load when the runner is activated.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from vla_edge.backends.base import BACKENDS, Runner
from vla_edge.errors import BackendError, InputError

FRAME_ROLES = ("policy", "monolithic")  # the graph that runs on every camera frame


@dataclass
class RunnerOptions:
    """How a runner runs. Options of another backend are ignored.

    onnxrt: `providers` (cpu | cuda | tensorrt; default cpu), `threads`, graph `optimization`
    (disable | basic | extended | all), `spinning` (idle intra-op threads spin; off for sessions
    timed side by side in one process). torch: `threads`. trt: `device` (engines built for this
    device; default: the device detected here), `cuda_graph` (capture the enqueue into a CUDA
    graph), `zero_copy` (mapped host memory; default: on a Jetson), `plugin_lib`."""

    providers: list[str] = field(default_factory=lambda: ["cpu"])
    threads: int | None = None
    optimization: str = "all"
    spinning: bool = True
    device: str | None = None
    cuda_graph: bool = False
    zero_copy: bool | None = None
    plugin_lib: Path | None = None

    def __post_init__(self) -> None:
        from vla_edge.backends.onnxrt.loader import OPT_LEVELS

        if self.optimization not in OPT_LEVELS:
            raise InputError(f"optimization must be one of {OPT_LEVELS}, got {self.optimization!r}")
        if self.threads is not None and self.threads < 1:
            raise InputError(f"threads must be >= 1, got {self.threads}")
        self.providers = list(self.providers or ["cpu"])

    def but(self, **changes: Any) -> RunnerOptions:
        return replace(self, **changes)


def _check_backend(backend: str) -> None:
    if backend not in BACKENDS:
        raise BackendError(f"unknown backend {backend!r}; choose one of {list(BACKENDS)}")


def runner_for(
    source: Any,
    role: str | None = None,
    backend: str = "onnxrt",
    options: RunnerOptions | None = None,
) -> Runner:
    """A (not yet active) runner for one graph.

    `source`: a Bundle or bundle directory (the graph of `role`, default the per-frame graph);
    an .onnx path or onnx.ModelProto (onnxrt); a torch graph module with its input names
    (`vla_edge.export.graphs.GraphSpec`, torch); a reference checkpoint directory (torch)."""
    _check_backend(backend)
    options = options or RunnerOptions()
    if hasattr(source, "module") and hasattr(source, "input_names"):
        return _torch_graph(source, backend, options)
    if isinstance(source, (str, Path)) and Path(source).suffix != ".onnx":
        source = open_source(Path(source), backend)
    if _is_bundle(source) or _is_model(source):
        runners = runners_for(source, backend, options)
        return runners[_role(runners, role, source)]
    if backend != "onnxrt":
        raise BackendError(
            f"a single ONNX graph runs with --backend onnxrt, not {backend!r}: give a bundle "
            "(with its source checkpoint or engines) to run torch or trt"
        )
    from vla_edge.backends.onnxrt import OnnxRuntimeRunner, SessionFromOnnx

    return OnnxRuntimeRunner(
        SessionFromOnnx(
            source, options.providers, options.threads, options.optimization, options.spinning
        )
    )


def runners_for(
    source: Any, backend: str = "onnxrt", options: RunnerOptions | None = None
) -> dict[str, Runner]:
    """A runner per graph role of a bundle (or of a reference checkpoint, torch only)."""
    _check_backend(backend)
    options = options or RunnerOptions()
    if isinstance(source, (str, Path)):
        source = open_source(Path(source), backend)
    if _is_model(source):
        from vla_edge.backends.torch.loader import runners_from_model

        return runners_from_model(source, threads=options.threads)
    if backend == "onnxrt":
        return {
            g["role"]: runner_for(source.path / g["file"], options=options) for g in source.graphs
        }
    if backend == "torch":
        if source.source_dir is None and "torch_source" in source.manifest:
            from vla_edge.backends.torch.program import ProgramsFromBundle  # a generic module's

            return ProgramsFromBundle(source, options.threads)()
        from vla_edge.backends.torch.loader import runners_from_bundle

        return runners_from_bundle(source, threads=options.threads)
    from vla_edge.backends.trt.loader import runners_for_bundle

    return runners_for_bundle(
        source,
        options.device,
        cuda_graph=options.cuda_graph,
        zero_copy=options.zero_copy,
        plugin_lib=options.plugin_lib,
    )


def open_source(path: Path, backend: str) -> Any:
    """A bundle (manifest.json) or, for torch, a reference checkpoint loaded as a model."""
    from vla_edge.policy.policy import bundle_or_checkpoint

    if bundle_or_checkpoint(path) == "bundle":
        from vla_edge.bundle import Bundle

        return Bundle.load(path)
    if backend != "torch":
        raise BackendError(
            f"{path} is a PyTorch checkpoint: use --backend torch, or export it first with "
            f"`vla-edge export {path} -o BUNDLE` to run it with {backend}"
        )
    from vla_edge.backends.torch import ModelFromCheckpoint

    return ModelFromCheckpoint(path)()


def _is_bundle(source: Any) -> bool:
    return hasattr(source, "manifest") and hasattr(source, "graphs")


def _is_model(source: Any) -> bool:
    return hasattr(source, "policy_spec") and hasattr(source, "config")


def _role(runners: dict[str, Runner], role: str | None, source: Any) -> str:
    if role is None:
        role = next((r for r in FRAME_ROLES if r in runners), None)
    if role not in runners:
        where = getattr(source, "path", "the model")
        raise BackendError(f"{where} has no {role!r} graph; it has {sorted(runners)}")
    return role


def _torch_graph(graph: Any, backend: str, options: RunnerOptions) -> Runner:
    if backend != "torch":
        raise BackendError(f"a torch graph module runs with backend 'torch', not {backend!r}")
    from vla_edge.backends.base import TensorMeta
    from vla_edge.backends.torch import TorchRunner

    inputs = getattr(graph, "inputs", None) or [
        TensorMeta(n, None, None) for n in graph.input_names
    ]
    return TorchRunner(graph.module, inputs, graph.output_names, options.threads)
