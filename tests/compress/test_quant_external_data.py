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
