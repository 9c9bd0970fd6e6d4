"""OnnxRuntimeRunner: infer with an onnxruntime.InferenceSession."""

from __future__ import annotations

import numpy as np

from vla_edge.backends.base import Runner, TensorMeta
from vla_edge.backends.onnxrt.loader import SessionFromOnnx

_ORT_TYPES = {
    "tensor(float)": np.float32,
    "tensor(float16)": np.float16,
    "tensor(double)": np.float64,
    "tensor(int64)": np.int64,
    "tensor(int32)": np.int32,
    "tensor(uint8)": np.uint8,
    "tensor(int8)": np.int8,
    "tensor(bool)": np.bool_,
}


class OnnxRuntimeRunner(Runner):
    name = "onnxrt"

    def __init__(self, loader: SessionFromOnnx) -> None:
        super().__init__()
        self.loader = loader
        self.session = None
        self._outputs: list[str] = []

    def _activate_impl(self) -> None:
        self.session = self.loader()
        self._outputs = [o.name for o in self.session.get_outputs()]

    def _input_metadata_impl(self) -> list[TensorMeta]:
        return [
            TensorMeta(
                i.name,
                np.dtype(_ORT_TYPES.get(i.type, np.float32)),
                tuple(d if isinstance(d, int) else None for d in i.shape),
            )
            for i in self.session.get_inputs()
        ]

    def _infer_impl(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        names = self._outputs
        return dict(zip(names, self.session.run(names, feeds), strict=True))

    def _deactivate_impl(self) -> None:
        self.session = None

    @property
    def providers(self) -> list[str]:
        return self.session.get_providers() if self.session else []
