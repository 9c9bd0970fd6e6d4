"""The generic entry (export_module): dynamo with several inputs, opset defaults, honest hints,
closure-held modules, never tracing the caller's module, the instruction-encoder split and the
torch.export source."""

import threading

import numpy as np
import pytest
import torch

from vla_edge.errors import ExportError
from vla_edge.export import ExportConfig, export_module
from vla_edge.policy.policy import Policy
from vla_edge.policy.spec import ActionSpace, CameraSpec, PolicySpec


class TwoCams(torch.nn.Module):
    """Two cameras and a state: three graph inputs."""

    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(2 * 3 * 16 + 3, 2 * 6)

    def forward(self, image_left, image_right, state):
        feats = [
            torch.nn.functional.adaptive_avg_pool2d(x.permute(0, 3, 1, 2).float() / 255, 4)
            for x in (image_left, image_right)
        ]
        return self.fc(torch.cat([f.flatten(1) for f in feats] + [state], 1)).reshape(-1, 2, 6)


class TextPolicy(torch.nn.Module):
    """A camera, a text encoder submodule called as text(input_ids, attention_mask), a state."""

    def __init__(self, vocab=259, dim=16):
        super().__init__()
        self.text = TextEncoder(vocab, dim)
        self.head = torch.nn.Linear(3 + dim + 3, 6)

    def forward(self, image_left, input_ids, attention_mask, state):
        emb = self.text(input_ids, attention_mask)
        return self.head(torch.cat([_pool(image_left), _mean(emb, attention_mask), state], 1))


class TextEncoder(torch.nn.Module):
    def __init__(self, vocab, dim):
        super().__init__()
        self.emb = torch.nn.Embedding(vocab, dim)
        self.proj = torch.nn.Linear(dim, dim)

    def forward(self, input_ids, attention_mask):
        return torch.tanh(self.proj(self.emb(input_ids))) * attention_mask[..., None]


class MethodPolicy(TextPolicy):
    """The encoder as a method; forward takes the embedding when it is given."""

    def encode_instruction(self, input_ids, attention_mask):
        return self.text(input_ids, attention_mask)

    def forward(
        self, image_left, attention_mask, state, input_ids=None, instruction_embedding=None
    ):
        if instruction_embedding is None:
            instruction_embedding = self.encode_instruction(input_ids, attention_mask)
        feats = [_pool(image_left), _mean(instruction_embedding, attention_mask), state]
        return self.head(torch.cat(feats, 1))


def _pool(img):
    return img.float().mean(dim=(1, 2)) / 255


def _mean(emb, mask):
    m = mask[..., None].float()
    return (emb * m).sum(1) / m.sum(1).clamp(min=1)


def _spec(cams=("left", "right"), chunk=2):
    return PolicySpec(
        cameras=[CameraSpec(c, 48, 64) for c in cams],
        action=ActionSpace(
            [f"j{i}" for i in range(6)], ["rad"] * 6, [-1.0] * 6, [1.0] * 6, chunk=chunk
        ),
        state_dim=3,
    )


def _frames(spec, value=128):
    return {c.name: np.full((c.height, c.width, 3), value, np.uint8) for c in spec.cameras}


def test_dynamo_exports_a_module_with_several_inputs(tmp_path):
    torch.manual_seed(0)
    cfg = ExportConfig(monolithic=True, exporter="dynamo")
    b = export_module(TwoCams(), _spec(), tmp_path / "b", cfg)
    assert b.manifest["validation"]["parity"]["passed"]
    (graph,) = b.graphs
    assert graph["opset"] == 18  # dynamo's default; legacy keeps 17
    assert [t["name"] for t in graph["inputs"]] == ["image_left", "image_right", "state"]
    assert all(t["shape"][0] == "batch" for t in graph["inputs"])


def test_opset_defaults_and_dynamo_refuses_17():
    assert ExportConfig().opset == 17 and ExportConfig(exporter="dynamo").opset == 18
    with pytest.raises(ExportError, match="dynamo exporter needs opset >= 18.*--exporter legacy"):
        ExportConfig(exporter="dynamo", opset=17)


@pytest.mark.parametrize("exporter", ["legacy", "dynamo"])
def test_failure_hint_never_suggests_what_is_in_use(tmp_path, monkeypatch, exporter):
    def boom(*args, **kwargs):
        raise RuntimeError("unsupported operator aten::frobnicate")

    monkeypatch.setattr(torch.onnx, "export", boom)
    cfg = ExportConfig(monolithic=True, exporter=exporter, include_source=False)
    with pytest.raises(ExportError) as err:
        export_module(TwoCams(), _spec(), tmp_path / "b", cfg)
    msg = str(err.value)
    assert f"({exporter})" in msg and "frobnicate" in msg
    other = "legacy" if exporter == "dynamo" else "dynamo"
    assert f"--exporter {other}" in msg and f"--exporter {exporter}" not in msg
    assert not (tmp_path / "b").exists()


def _factory_wrapper(policy):
    class Wrapper(torch.nn.Module):  # reaches its policy only through the closure
        def forward(self, image_left, image_right, state):
            return policy(image_left, image_right, state)

    return Wrapper()


class LambdaWrapper(torch.nn.Module):
    def __init__(self, policy):
        super().__init__()
        self.run = lambda *args: policy(*args)

    def forward(self, image_left, image_right, state):
        return self.run(image_left, image_right, state)


@pytest.mark.parametrize("exporter", ["legacy", "dynamo"])
@pytest.mark.parametrize("wrap", [_factory_wrapper, LambdaWrapper])
def test_closure_held_module_exports_and_stays_untouched(tmp_path, exporter, wrap):
    torch.manual_seed(0)
    policy = TwoCams()
    before = {k: v.clone() for k, v in policy.state_dict().items()}
    wrapper = wrap(policy)
    assert list(wrapper.parameters()) == []  # nothing registered: the closure holds it all
    cfg = ExportConfig(monolithic=True, exporter=exporter, include_source=False)
    b = export_module(wrapper, _spec(), tmp_path / "b", cfg)
    assert b.manifest["validation"]["parity"]["passed"]
    after = policy.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    with Policy.load(b.path) as p:
        got = p.predict(_frames(p.spec), "x", np.ones(3, np.float32))
    frames = {k: torch.from_numpy(v[None]) for k, v in _frames(b.spec).items()}
    want = policy(frames["left"], frames["right"], torch.ones(1, 3)).clamp(-1, 1)
    np.testing.assert_allclose(got, want[0].detach().numpy(), atol=1e-5)


def _tracing():
    return torch.jit.is_tracing() or torch.compiler.is_compiling() or torch._C._get_tracing_state()


def test_export_never_traces_the_callers_module(tmp_path):
    calls = []
    policy = TwoCams()
    # deepcopy copies hooks too: record which instance ran, and whether it ran under a tracer
    policy.register_forward_hook(lambda m, a, o: calls.append((m is policy, _tracing())))
    export_module(policy, _spec(), tmp_path / "b")
    ran_traced = [mine for mine, traced in calls if traced]
    assert ran_traced and not any(ran_traced)  # the copy was traced, never the original
    assert any(mine for mine, traced in calls if not traced)  # the original: parity reference


def test_a_module_that_cannot_be_copied_is_an_error_with_its_reason(tmp_path):
    policy = TwoCams()
    policy.lock = threading.Lock()
    with pytest.raises(ExportError, match=r"could not copy TwoCams.*TypeError.*lock"):
        export_module(policy, _spec(), tmp_path / "b")
    assert not (tmp_path / "b").exists()


@pytest.mark.parametrize("model,name", [(TextPolicy, "text"), (MethodPolicy, "encode_instruction")])
def test_instruction_encoder_split(tmp_path, model, name):
    torch.manual_seed(0)
    policy, spec = model(), _spec(cams=("left",), chunk=1)
    b = export_module(policy, spec, tmp_path / "b", ExportConfig(), instruction_encoder=name)
    assert [g["role"] for g in b.graphs] == ["instruction_encoder", "policy"]
    pol_inputs = [t["name"] for t in b.graph("policy")["inputs"]]
    assert "instruction_embedding" in pol_inputs and "input_ids" not in pol_inputs
    parity = b.manifest["validation"]["parity"]
    assert parity["passed"] and parity["max_abs_error"]["actions"] < 1e-5
    with Policy.load(b.path) as p:
        frames, state = _frames(spec), np.ones(3, np.float32)
        a1 = p.predict(frames, "open the drawer", state)
        p.predict(frames, "open the drawer", state)
        a2 = p.predict(frames, "close the drawer", state)
        assert (p.cache_hits, p.cache_misses) == (1, 2)  # encoded only when the text changed
    ids, mask = p.tokenizer(["close the drawer"])
    args = [
        torch.from_numpy(frames["left"][None]),
        torch.from_numpy(ids),
        torch.from_numpy(mask),
        torch.ones(1, 3),
    ]
    if model is TextPolicy:
        want = policy(*args)
    else:
        want = policy(args[0], args[2], args[3], input_ids=args[1])
    np.testing.assert_allclose(a2[0], want.clamp(-1, 1)[0].detach().numpy(), atol=1e-5)
    assert not np.allclose(a1, a2)


def test_instruction_encoder_that_is_not_there_lists_the_submodules(tmp_path):
    with pytest.raises(ExportError, match=r"'txt' is neither.*\['text', 'head'\]"):
        export_module(TextPolicy(), _spec(("left",)), tmp_path / "b", instruction_encoder="txt")


@pytest.mark.parametrize("split", [False, True])
def test_torch_backend_runs_the_saved_program(tmp_path, split):
    torch.manual_seed(0)
    spec = _spec(cams=("left",), chunk=1)
    enc = "text" if split else None
    cfg = ExportConfig(monolithic=not split)
    b = export_module(TextPolicy(), spec, tmp_path / "b", cfg, instruction_encoder=enc)
    src = b.manifest["torch_source"]
    assert src["format"] == "torch.export" and max(src["max_abs_error"].values()) < 1e-6
    frames, state = _frames(spec, 37), np.linspace(-1, 1, 3).astype(np.float32)
    with Policy.load(b.path, backend="onnxrt") as p:
        onnx_out = p.predict(frames, "push the button", state)
    with Policy.load(b.path, backend="torch") as p:
        torch_out = p.predict(frames, "push the button", state)
    np.testing.assert_allclose(torch_out, onnx_out, atol=1e-5)


def test_torch_backend_without_a_source_says_why(tmp_path):
    from vla_edge.errors import BackendError

    cfg = ExportConfig(monolithic=True, include_source=False)
    b = export_module(TwoCams(), _spec(), tmp_path / "b", cfg)
    with pytest.raises(BackendError, match="carries no PyTorch source.*--backend onnxrt"):
        Policy.load(b.path, backend="torch")
