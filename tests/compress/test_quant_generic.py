"""Quantizing a generic (export_module) bundle whose graph takes no text: calibration feeds
only what the graph takes (a LeRobot ACT or Diffusion bundle is such a graph)."""

import torch

from vla_edge.compress.quantize import QuantizeConfig, quantize
from vla_edge.export import ExportConfig, export_module
from vla_edge.policy.spec import ActionSpace, CameraSpec, PolicySpec


class ImageStatePolicy(torch.nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.conv = torch.nn.Conv2d(3, 8, 3, stride=2)
        self.fc = torch.nn.Linear(8 + 3, 2 * 4)

    def forward(self, image_top, state):
        x = self.conv(image_top.permute(0, 3, 1, 2).float() / 255).relu().mean((2, 3))
        return torch.tanh(self.fc(torch.cat([x, state], 1))).reshape(-1, 2, 4)


def test_int8_of_a_graph_without_text_inputs(tmp_path):
    spec = PolicySpec(
        cameras=[CameraSpec("top", 24, 32)],
        action=ActionSpace([f"a{i}" for i in range(4)], ["m"] * 4, [-1.0] * 4, [1.0] * 4, chunk=2),
        state_dim=3,
    )
    parent = export_module(ImageStatePolicy(), spec, tmp_path / "b", ExportConfig(monolithic=True))
    assert {i["name"] for i in parent.manifest["graphs"][0]["inputs"]} == {"image_top", "state"}
    q = quantize(parent, tmp_path / "q", QuantizeConfig(precision="int8", calib_size=16, holdout=8))
    assert q.manifest["graphs"][0]["precision"] == "int8"
    assert q.manifest["validation"]["parity"]["samples"] == 8


def test_preprocess_falls_back_to_onnx_shape_inference(tmp_path, monkeypatch):
    """Symbolic shape inference fails on some dynamo graphs (LeRobot SmolVLA's): the last try
    uses ONNX's own shape inference; if that fails too, the error says so (no opset hint)."""
    import onnxruntime.quantization as ortq
    import pytest

    from vla_edge.compress.quantize.graphs import preprocess
    from vla_edge.errors import QuantizationError

    calls = []

    def fake(src, dst, **kw):
        calls.append(kw)
        if not kw.get("skip_symbolic_shape"):
            raise RuntimeError("symbolic shape inference failed")

    monkeypatch.setattr(ortq, "quant_pre_process", fake)
    assert preprocess(tmp_path / "g.onnx", tmp_path / "p.onnx") == (
        "quant_pre_process(skip_symbolic_shape=True)"
    )
    assert len(calls) == 3

    def always(src, dst, **kw):
        raise RuntimeError("no shapes")

    monkeypatch.setattr(ortq, "quant_pre_process", always)
    with pytest.raises(QuantizationError, match="with and without symbolic shapes") as err:
        preprocess(tmp_path / "g.onnx", tmp_path / "p.onnx")
    assert "opset 17" not in str(err.value)
