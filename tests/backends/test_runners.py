import numpy as np
import pytest

from vla_edge.backends.onnxrt import OnnxRuntimeRunner, SessionFromOnnx
from vla_edge.bundle import Bundle
from vla_edge.errors import BackendError, InputError, ShapeError


@pytest.fixture
def encoder_path(tiny_bundle):
    return Bundle.load(tiny_bundle("bins")).graph_path("instruction_encoder")


def _feeds(batch=1):
    return {
        "input_ids": np.ones((batch, 32), np.int64),
        "attention_mask": np.ones((batch, 32), np.int64),
    }


def test_runner_lifecycle_and_timing(encoder_path):
    runner = OnnxRuntimeRunner(SessionFromOnnx(encoder_path))
    with pytest.raises(BackendError, match="not active"):
        runner.infer(_feeds())
    with runner:
        out = runner.infer(_feeds(3))
        assert out["instruction_embedding"].shape == (3, 32, 64)
        assert len(runner.timing.times_ms) == 1 and runner.timing.last_ms > 0
        names = [m.name for m in runner.input_metadata()]
        assert names == ["input_ids", "attention_mask"]
    assert not runner.is_active


def test_runner_checks_inputs(encoder_path):
    with OnnxRuntimeRunner(SessionFromOnnx(encoder_path)) as runner:
        with pytest.raises(InputError, match=r"missing \['attention_mask'\]"):
            runner.infer({"input_ids": np.ones((1, 32), np.int64)})
        with pytest.raises(InputError, match="must have dtype int64, got int32"):
            runner.infer({**_feeds(), "input_ids": np.ones((1, 32), np.int32)})
        with pytest.raises(ShapeError, match=r"must have shape \[B, 32\], got \[1, 31\]"):
            runner.infer({**_feeds(), "input_ids": np.ones((1, 31), np.int64)})


def test_missing_provider_lists_available(encoder_path):
    with pytest.raises(
        BackendError, match=r"TensorrtExecutionProvider.*has \['.*CPUExecutionProvider"
    ):
        OnnxRuntimeRunner(SessionFromOnnx(encoder_path, providers=["tensorrt"])).activate()
