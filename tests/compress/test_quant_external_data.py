"""quantize writes a graph whose weights pass EXTERNAL_DATA_BYTES with ONNX external data
(`<role>.onnx.data` beside it, hashed with the bundle), and reads a parent written so;
tested with a small threshold instead of a 2 GiB graph."""

from __future__ import annotations

import numpy as np
import pytest

from vla_edge.bundle import Bundle
from vla_edge.compress.quantize import Budget, QuantizeConfig, quantize
from vla_edge.export import ExportConfig, export_checkpoint, onnx_export
from vla_edge.policy.policy import Policy


@pytest.mark.parametrize("precision", ["fp16", "int8"])
def test_quantize_writes_and_reads_external_data(tiny_checkpoint, tmp_path, monkeypatch, precision):
    monkeypatch.setattr(onnx_export, "EXTERNAL_DATA_BYTES", 4096)
    parent = tmp_path / "p"
    export_checkpoint(tiny_checkpoint("continuous"), parent, ExportConfig(monolithic=True))
    assert (parent / "monolithic.onnx.data").is_file()  # the parent has external data too
    cfg = QuantizeConfig(precision=precision, calib_size=8, holdout=4, budget=Budget(spread=1e3))
    b = quantize(parent, tmp_path / "q", cfg)
    data = tmp_path / "q/monolithic.onnx.data"
    assert data.is_file() and data.stat().st_size > (tmp_path / "q/monolithic.onnx").stat().st_size
    assert "monolithic.onnx.data" in b.manifest["files"]
    assert Bundle.load(tmp_path / "q").precision == precision
    spec = b.spec
    frames = {c.name: np.full((c.height, c.width, 3), 100, np.uint8) for c in spec.cameras}
    state = np.zeros(spec.state_dim, np.float32)
    with Policy.load(parent) as p, Policy.load(tmp_path / "q") as q:
        want, got = (
            p.predict(frames, "open the drawer", state),
            q.predict(frames, "open the drawer", state),
        )
    span = np.asarray(spec.action.high) - np.asarray(spec.action.low)
    assert np.all(np.abs(got - want) <= 0.05 * span)


def test_a_large_in_memory_graph_runs_from_a_file(monkeypatch):
    """Above the threshold, the evaluator hands ONNX Runtime a file with external data instead
    of one serialized message, and the caller's model keeps its weights."""
    import onnx

    from vla_edge.compress.quantize import evaluate

    w = np.arange(64 * 64, dtype=np.float32).reshape(64, 64) / 4096
    graph = onnx.helper.make_graph(
        [onnx.helper.make_node("MatMul", ["x", "w"], ["y"])],
        "g",
        [onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, ["n", 64])],
        [onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, ["n", 64])],
        [onnx.numpy_helper.from_array(w, "w")],
    )
    model = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", 17)])
    seen = []
    real = evaluate.runner_for
    monkeypatch.setattr(evaluate, "runner_for", lambda g, **kw: seen.append(g) or real(g, **kw))
    monkeypatch.setattr(onnx_export, "EXTERNAL_DATA_BYTES", 1024)
    x = np.ones((2, 64), np.float32)
    y = evaluate.run_graph(model, [{"x": x}], "y")
    np.testing.assert_allclose(y, x @ w, rtol=1e-5)
    assert str(seen[0]).endswith("graph.onnx")  # a file (its weights in graph.onnx.data)
    assert model.graph.initializer[0].data_location == onnx.TensorProto.DEFAULT
    monkeypatch.setattr(onnx_export, "EXTERNAL_DATA_BYTES", 10**12)
    evaluate.run_graph(model, [{"x": x}], "y")
    assert seen[1] is model  # below the threshold: handed over in memory
