"""TorchRunner: run a graph module (see vla_edge.export.graphs) eagerly on numpy feeds."""

from __future__ import annotations

import numpy as np

from vla_edge.backends.base import Runner, TensorMeta


class TorchRunner(Runner):
    name = "torch"

    def __init__(
        self, module, inputs: list[TensorMeta], output_names: list[str], threads: int | None = None
    ) -> None:
        super().__init__()
        self.module, self.inputs, self.output_names = module, inputs, output_names
        self.threads = threads

    def _activate_impl(self) -> None:
        import torch

        if self.threads:
            torch.set_num_threads(self.threads)
        self.module.eval()

    def _input_metadata_impl(self) -> list[TensorMeta]:
        return self.inputs

    def _infer_impl(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        import torch

        args = [torch.from_numpy(_writable(feeds[m.name])) for m in self.inputs]
        with torch.inference_mode():
            out = self.module(*args)
        outs = out if isinstance(out, (tuple, list)) else (out,)
        return {n: o.detach().cpu().numpy() for n, o in zip(self.output_names, outs, strict=True)}


def _writable(arr: np.ndarray) -> np.ndarray:
    arr = np.ascontiguousarray(arr)
    return arr if arr.flags.writeable else arr.copy()
