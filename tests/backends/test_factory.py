"""runner_for / runners_for: the one place a runner is made."""

from __future__ import annotations

import numpy as np
import onnx
import pytest

from vla_edge.backends import RunnerOptions, runner_for, runners_for
from vla_edge.backends.onnxrt import OnnxRuntimeRunner
from vla_edge.backends.torch import TorchRunner
from vla_edge.bundle import Bundle
from vla_edge.errors import BackendError, InputError


def test_bundle_roles_and_the_default_per_frame_graph(tiny_bundle):
    b = Bundle.load(tiny_bundle("bins"))
    assert set(runners_for(b)) == {"instruction_encoder", "policy"}
    assert isinstance(runner_for(b), OnnxRuntimeRunner)
    assert runner_for(b).loader.path.name == "policy.onnx"
    with pytest.raises(BackendError, match="no 'monolithic' graph"):
        runner_for(b, "monolithic")
    torch_runners = runners_for(b.path, "torch")  # from the bundle's source checkpoint
    assert all(isinstance(r, TorchRunner) for r in torch_runners.values())


def test_one_onnx_graph_in_memory_or_on_disk(tiny_bundle):
    b = Bundle.load(tiny_bundle("bins"))
    path = b.graph_path("instruction_encoder")
    feeds = {"input_ids": np.ones((2, 32), np.int64), "attention_mask": np.ones((2, 32), np.int64)}
    with runner_for(path) as disk, runner_for(onnx.load(str(path))) as memory:
        a, m = disk.infer(feeds), memory.infer(feeds)
    np.testing.assert_array_equal(a["instruction_embedding"], m["instruction_embedding"])
    with pytest.raises(BackendError, match="single ONNX graph runs with --backend onnxrt"):
        runner_for(path, backend="trt")


def test_bad_backend_and_options(tiny_checkpoint):
    with pytest.raises(BackendError, match="unknown backend"):
        runner_for("x.onnx", backend="tflite")
    with pytest.raises(InputError, match="optimization"):
        RunnerOptions(optimization="max")
    with pytest.raises(BackendError, match="PyTorch checkpoint: use --backend torch"):
        runners_for(tiny_checkpoint("bins"), "onnxrt")
    assert set(runners_for(tiny_checkpoint("bins"), "torch")) == {"instruction_encoder", "policy"}


def test_trt_runners_come_from_the_bundles_engines(tiny_bundle, monkeypatch):
    from vla_edge.backends.trt import loader
    from vla_edge.backends.trt.runner import TensorRTRunner
    from vla_edge.backends.trt.sidecar import Machine

    monkeypatch.setattr(loader, "machine_info", Machine)  # no GPU detected, whatever runs this

    b = Bundle.load(tiny_bundle("bins"))
    b.manifest = {
        **b.manifest,
        "engines": [{"role": "policy", "engine": "engines/orin-nx-16gb-fp16.plan",
                     "device": "orin-nx-16gb"}],
    }  # fmt: skip
    runners = runners_for(b, "trt", RunnerOptions(device="orin-nx", cuda_graph=True))
    assert isinstance(runners["policy"], TensorRTRunner) and runners["policy"].cuda_graph
