"""ProgramsFromBundle: the torch.export programs a generic-module bundle carries as its PyTorch
source (`manifest["torch_source"]`, see vla_edge.export.torch_source), as TorchRunners."""

from __future__ import annotations

import numpy as np

from vla_edge.backends.base import TensorMeta
from vla_edge.errors import BackendError


class ProgramsFromBundle:
    """Callable loader: `ProgramsFromBundle(bundle, threads)()` -> {role: TorchRunner}."""

    def __init__(self, bundle, threads: int | None = None) -> None:
        self.bundle, self.threads = bundle, threads

    def __call__(self) -> dict:
        import torch

        from vla_edge.backends.torch.runner import TorchRunner

        block = self.bundle.manifest.get("torch_source") or {}
        if block.get("format") != "torch.export":
            reason = block.get("reason", "exported without one (include_source=False)")
            raise BackendError(
                f"bundle {self.bundle.path} carries no PyTorch source ({reason}): use "
                "--backend onnxrt"
            )
        if self.bundle.precision != "fp32":
            raise BackendError(
                f"bundle {self.bundle.path} is {self.bundle.precision}; its torch source is the "
                "FP32 parent. Use --backend onnxrt to run this precision"
            )
        runners = {}
        for graph in self.bundle.graphs:
            path = self.bundle.path / block["files"][graph["role"]]
            module = _Program(torch.export.load(str(path)).module())
            inputs = [_meta(t) for t in graph["inputs"]]
            names = [t["name"] for t in graph["outputs"]]
            runners[graph["role"]] = TorchRunner(module, inputs, names, self.threads)
        return runners


class _Program:
    """A program's module as TorchRunner calls it (an exported module refuses .eval(): it is
    already traced in eval mode)."""

    def __init__(self, module) -> None:
        self.module = module

    def eval(self) -> _Program:
        return self

    def __call__(self, *args):
        return self.module(*args)


def _meta(row: dict) -> TensorMeta:
    shape = tuple(d if isinstance(d, int) else None for d in row["shape"])
    return TensorMeta(row["name"], np.dtype(row["dtype"]), shape)
