import pytest
import torch

from vla_edge.errors import SpecError
from vla_edge.policy.reference import VlaForActions, default_spec, preset_config
from vla_edge.policy.tokenizer import ByteTokenizer

HEADS = ("bins", "continuous", "flow")


def _inputs(spec, batch=2):
    tok = ByteTokenizer(spec.instruction.max_tokens)
    ids, mask = tok(["open the drawer", "push the button"][:batch])
    imgs = {
        c.name: torch.randint(0, 256, (batch, c.height, c.width, 3), dtype=torch.uint8)
        for c in spec.cameras
    }
    return imgs, torch.from_numpy(ids), torch.from_numpy(mask), torch.randn(batch, spec.state_dim)


@pytest.mark.parametrize("head", HEADS)
def test_tiny_preset_is_small_and_acts_within_limits(head):
    model = VlaForActions(preset_config("tiny", head=head)).eval()
    assert sum(p.numel() for p in model.parameters()) < 2_000_000
    spec = model.policy_spec
    with torch.no_grad():
        actions = model(*_inputs(spec))
    assert actions.shape == (2, spec.action.chunk, spec.action.dim)
    low, high = torch.tensor(spec.action.low), torch.tensor(spec.action.high)
    assert bool(((actions >= low) & (actions <= high)).all())


@pytest.mark.parametrize("head", HEADS)
def test_loss_trains(head):
    torch.manual_seed(0)
    model = VlaForActions(preset_config("tiny", head=head))
    imgs, ids, mask, state = _inputs(model.policy_spec)
    target = torch.tensor([[0.01, -0.02, 0.03, 0.8]]).repeat(2, model.policy_spec.action.chunk, 1)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    first = None
    for _ in range(30):
        loss = model.compute_loss(imgs, ids, mask, state, target)
        opt.zero_grad()
        loss.backward()
        opt.step()
        first = first if first is not None else loss.item()
    assert loss.item() < 0.7 * first


def test_save_and_load_round_trip(tmp_path):
    model = VlaForActions(preset_config("tiny", head="flow")).eval()
    model.save_pretrained(tmp_path)
    again = VlaForActions.from_pretrained(tmp_path).eval()
    inputs = _inputs(model.policy_spec)
    with torch.no_grad():
        assert torch.equal(model(*inputs), again(*inputs))
    assert (tmp_path / "model.safetensors").is_file()


def test_small_preset_size_and_head_mismatch():
    small = VlaForActions(preset_config("small", head="continuous"))
    assert 10e6 < sum(p.numel() for p in small.parameters()) < 20e6
    cfg = preset_config("tiny", spec=default_spec(head="bins"))
    cfg.head = "flow"
    with pytest.raises(SpecError, match="does not match the spec's action representation"):
        VlaForActions(cfg)


def test_multi_camera_model():
    spec = default_spec("tiny", "bins", cameras=("front", "wrist"))
    model = VlaForActions(preset_config("tiny", spec=spec)).eval()
    with torch.no_grad():
        assert model(*_inputs(spec)).shape == (2, 4, 4)


def test_patch_embedding_equals_normalize_then_conv():
    """The reshape+matmul patch embedding (normalization folded into the weights) computes the
    same tokens as normalizing the frame and running the strided convolution."""
    torch.manual_seed(0)
    model = VlaForActions(preset_config("tiny")).eval()
    enc = model.cameras["front"]
    frames = torch.randint(0, 256, (3, 64, 64, 3), dtype=torch.uint8)
    x = (frames.to(torch.float32).permute(0, 3, 1, 2) - enc.mean) * enc.inv_std
    ref = torch.nn.functional.conv2d(x, enc.patch.weight, enc.patch.bias, stride=16)
    ref = ref.flatten(2).transpose(1, 2) + enc.pos
    with torch.no_grad():
        got = enc(frames)
    assert got.shape == ref.shape == (3, 16, 64)
    torch.testing.assert_close(got, ref, atol=1e-4, rtol=1e-4)
    enc.fold_for_export()  # what export does on its copy: the same tokens from constants
    with torch.no_grad():
        torch.testing.assert_close(enc(frames), got)


@pytest.mark.parametrize("head", HEADS)
def test_mlp_fusion_student_acts_learns_and_is_smaller(head):
    torch.manual_seed(0)
    spec = default_spec("tiny", head, cameras=("front", "wrist"))
    cfg = preset_config("tiny", spec=spec, head=head)
    cfg.fusion_type, cfg.vision_layers, cfg.fusion_layers = "mlp", 0, 2
    model = VlaForActions(cfg)
    assert not hasattr(model, "queries") and len(model.fusion) == 0
    imgs, ids, mask, state = _inputs(spec)
    with torch.no_grad():
        actions = model.eval()(imgs, ids, mask, state)
    assert actions.shape == (2, spec.action.chunk, spec.action.dim)
    # padding tokens do not change the pooled instruction
    emb = model.encode_instruction(ids, mask)
    with torch.no_grad():
        feats = model.features(imgs, emb, mask, state)
        noisy = emb + (1 - mask[:, :, None].float()) * 100.0
        assert torch.allclose(model.features(imgs, noisy, mask, state), feats, atol=1e-5)
    target = torch.tensor([[0.01, -0.02, 0.03, 0.8]]).repeat(2, spec.action.chunk, 1)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    model.train()
    losses = []
    for _ in range(30):
        loss = model.compute_loss(imgs, ids, mask, state, target)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.5 * losses[0]


def test_unknown_fusion_type_is_refused():
    cfg = preset_config("tiny")
    cfg.fusion_type = "gru"
    with pytest.raises(SpecError, match="unknown fusion_type 'gru'"):
        VlaForActions(cfg)


def test_edge_preset_is_an_mlp_fusion_student():
    model = VlaForActions(preset_config("edge")).eval()
    assert model.fusion_type == "mlp" and len(model.vision) == 0
    assert sum(p.numel() for p in model.parameters()) < 500_000
    with torch.no_grad():
        assert model(*_inputs(model.policy_spec)).shape == (2, 4, 4)
