"""Broken models are refused before a bundle is written: non-finite weights (named), tensors
missing from or unexpected in a checkpoint (named), NaN on the parity samples; and parity never
passes on NaN."""

import shutil

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file
from typer.testing import CliRunner

from vla_edge.cli.main import app
from vla_edge.errors import CheckpointError, ExportError, ParityError
from vla_edge.export import ExportConfig, ParityConfig, compare, export_checkpoint, export_module
from vla_edge.policy.reference import default_spec
from vla_edge.policy.spec import ActionSpace, CameraSpec, PolicySpec


def _tampered(src, dst, edit):
    shutil.copytree(src, dst)
    tensors = load_file(dst / "model.safetensors")
    edit(tensors)
    save_file(tensors, dst / "model.safetensors", metadata={"format": "pt"})
    return dst


def _tree(path):
    return sorted(p.relative_to(path).as_posix() for p in path.rglob("*"))


def test_nan_weights_are_refused_naming_the_tensors(tiny_checkpoint, tmp_path):
    def poison(t):
        for name in ("fusion.0.cross_attn.k.weight", "head.proj.weight"):
            if name in t:
                t[name] = torch.full_like(t[name], float("nan"))
        t["camera_embed"].view(-1)[0] = float("inf")

    ck = _tampered(tiny_checkpoint("bins"), tmp_path / "ck", poison)
    with pytest.raises(CheckpointError, match="non-finite weights") as err:
        export_checkpoint(ck, tmp_path / "b")
    msg = str(err.value)
    assert "fusion.0.cross_attn.k.weight" in msg and "camera_embed (1 of" in msg
    assert not (tmp_path / "b").exists()


def test_all_nan_checkpoint_fails_on_the_cli_without_a_bundle(tiny_checkpoint, tmp_path):
    def poison(t):
        for name in t:
            if t[name].is_floating_point():
                t[name] = torch.full_like(t[name], float("nan"))

    ck = _tampered(tiny_checkpoint("bins"), tmp_path / "ck", poison)
    before = _tree(tmp_path)
    r = CliRunner().invoke(app, ["export", str(ck), "-o", str(tmp_path / "b")])
    assert r.exit_code != 0 and "PASS" not in r.output
    assert "non-finite weights" in r.output and "Traceback" not in r.output
    assert _tree(tmp_path) == before  # nothing written, nothing left behind


def test_missing_and_unexpected_tensors_are_named(tiny_checkpoint, tmp_path):
    dropped = []

    def edit(t):
        for name in sorted(t)[3:37]:  # 34 tensors gone, as in the issue
            dropped.append(name)
            del t[name]
        t["extra.adapter.weight"] = torch.zeros(3)

    ck = _tampered(tiny_checkpoint("bins"), tmp_path / "ck", edit)
    with pytest.raises(CheckpointError) as err:
        export_checkpoint(ck, tmp_path / "b")
    msg = str(err.value)
    assert "34 tensor(s) missing from the file" in msg and dropped[0] in msg
    assert "1 tensor(s) in the file but not in the model" in msg
    assert "extra.adapter.weight" in msg and "and 28 more" in msg
    assert not (tmp_path / "b").exists()


def test_an_intact_checkpoint_still_loads(tiny_checkpoint):
    from vla_edge.backends.torch import ModelFromCheckpoint

    model = ModelFromCheckpoint(tiny_checkpoint("continuous"))()
    assert all(torch.isfinite(p).all() for p in model.parameters())


def test_export_model_refuses_an_in_memory_nan_model(tiny_checkpoint, tmp_path):
    from vla_edge.backends.torch import ModelFromCheckpoint
    from vla_edge.export import export_model

    model = ModelFromCheckpoint(tiny_checkpoint("flow"))()
    with torch.no_grad():
        next(model.parameters())[...] = float("nan")
    with pytest.raises(ExportError, match="non-finite weights"):
        export_model(model, tmp_path / "b")
    assert not (tmp_path / "b").exists()


class LogOfState(torch.nn.Module):
    """Finite weights, but log(state) is NaN for the negative states among the samples."""

    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(3, 6)

    def forward(self, image_left, state):
        x = image_left.float().mean(dim=(1, 2)) / 255 + torch.log(state)
        return self.fc(x).reshape(-1, 1, 6)


def test_nan_outputs_on_the_parity_samples_are_refused(tmp_path):
    spec = PolicySpec(
        cameras=[CameraSpec("left", 32, 32)],
        action=ActionSpace([f"j{i}" for i in range(6)], ["rad"] * 6, [-1.0] * 6, [1.0] * 6),
        state_dim=3,
    )
    cfg = ExportConfig(monolithic=True, include_source=False)
    with pytest.raises(ParityError, match="output 'actions' of torch holds NaN or inf"):
        export_module(LogOfState(), spec, tmp_path / "b", cfg)
    assert not (tmp_path / "b").exists()


@pytest.mark.parametrize("head", ["bins", "continuous"])
@pytest.mark.parametrize("side", ["both", "candidate"])
def test_parity_never_passes_on_nan(head, side):
    spec = default_spec(head=head)
    ref = {"actions": np.zeros((2, 4, 4), np.float32)}
    cand = {"actions": ref["actions"].copy()}
    cand["actions"][1, 0, 2] = np.nan
    if side == "both":
        ref["actions"][1, 0, 2] = np.nan
    with pytest.raises(ParityError, match="holds NaN or inf in 1 of 32 values"):
        compare(ref, cand, spec, ParityConfig())
    report = compare(ref, cand, spec, ParityConfig(), raise_on_fail=False)
    assert report.passed is False


def test_parity_fails_on_a_nan_embedding():
    spec = default_spec(head="continuous")
    acts = np.zeros((2, 4, 4), np.float32)
    emb = np.zeros((2, 8, 16), np.float32)
    bad = emb.copy()
    bad[0, 0, 0] = np.inf
    ref = {"instruction_embedding": emb, "actions": acts}
    cand = {"instruction_embedding": bad, "actions": acts.copy()}
    with pytest.raises(ParityError, match="'instruction_embedding' of onnxrt holds NaN or inf"):
        compare(ref, cand, spec, ParityConfig())
