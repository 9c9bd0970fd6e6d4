"""Graphs whose weights pass EXTERNAL_DATA_BYTES (2 GiB less headroom: protobuf's limit) are
written with onnx's external data, one `<graph>.onnx.data` beside the graph; tested with a
small threshold."""

import numpy as np
import onnx
import pytest
import torch

from vla_edge.export import ExportConfig, export_module, onnx_export
from vla_edge.policy.policy import Policy
from vla_edge.policy.spec import ActionSpace, CameraSpec, PolicySpec


class Wide(torch.nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.fc1 = torch.nn.Linear(3 + 2, 256)
        self.fc2 = torch.nn.Linear(256, 2 * 4)

    def forward(self, image_top, state):
        x = image_top.float().mean((1, 2)) / 255
        return torch.tanh(self.fc2(self.fc1(torch.cat([x, state], 1)).relu())).reshape(-1, 2, 4)


def _spec():
    return PolicySpec(
        cameras=[CameraSpec("top", 16, 16)],
        action=ActionSpace([f"a{i}" for i in range(4)], ["m"] * 4, [-1.0] * 4, [1.0] * 4, chunk=2),
        state_dim=2,
    )


def test_a_large_graph_is_written_with_external_data(tmp_path, monkeypatch):
    monkeypatch.setattr(onnx_export, "EXTERNAL_DATA_BYTES", 1024)
    b = export_module(Wide(), _spec(), tmp_path / "b", ExportConfig(monolithic=True))
    graph, data = tmp_path / "b/monolithic.onnx", tmp_path / "b/monolithic.onnx.data"
    assert data.is_file() and data.stat().st_size > 256 * 5 * 4  # fc1's weights at least
    assert graph.stat().st_size < data.stat().st_size
    assert "monolithic.onnx.data" in b.manifest["files"]  # hashed and verified like the rest
    assert b.manifest["validation"]["parity"]["passed"]
    with Policy.load(tmp_path / "b", backend="onnxrt") as p:
        a = p.predict({"top": np.full((16, 16, 3), 9, np.uint8)}, "", np.ones(2, np.float32))
    want = Wide()(torch.full((1, 16, 16, 3), 9, dtype=torch.uint8), torch.ones(1, 2))
    np.testing.assert_allclose(a, want[0].detach().numpy(), atol=1e-5)


def test_a_small_graph_stays_in_one_file(tmp_path):
    export_module(Wide(), _spec(), tmp_path / "b", ExportConfig(monolithic=True))
    assert not (tmp_path / "b/monolithic.onnx.data").exists()


@pytest.mark.parametrize("threshold", [10**12, 1024])
def test_rewriting_removes_the_files_it_was_read_from(tmp_path, monkeypatch, threshold):
    """An exporter's own external files (e.g. one per tensor) are folded into the one we write."""
    model = onnx.helper.make_model(
        onnx.helper.make_graph(
            [onnx.helper.make_node("Add", ["x", "w"], ["y"])],
            "g",
            [onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [512])],
            [onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [512])],
            [onnx.numpy_helper.from_array(np.arange(512, dtype=np.float32), "w")],
        )
    )
    onnx.save_model(
        model,
        str(tmp_path / "g.onnx"),
        save_as_external_data=True,
        location="w.bin",
        size_threshold=0,
    )
    monkeypatch.setattr(onnx_export, "EXTERNAL_DATA_BYTES", threshold)
    loaded, stale = onnx_export.load_onnx(tmp_path / "g.onnx")
    assert stale == {"w.bin"}
    onnx_export.save_onnx(loaded, tmp_path / "g.onnx", stale)
    assert not (tmp_path / "w.bin").exists()
    assert (tmp_path / "g.onnx.data").exists() == (threshold == 1024)
    w = onnx.numpy_helper.to_array(onnx.load(str(tmp_path / "g.onnx")).graph.initializer[0])
    assert w.tolist() == list(range(512))
