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
