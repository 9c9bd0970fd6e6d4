"""Structured pruning and 2:4 sparsity on tiny reference models and synthetic demonstrations."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from vla_edge.compress.distill import synthetic_demos
from vla_edge.compress.distill.batches import Collator
from vla_edge.compress.distill.losses import readout
from vla_edge.compress.prune import PruneConfig, RecoverConfig, apply_plan, identity_plan
from vla_edge.compress.prune.plan import keep_count, make_plan, random_scores
from vla_edge.compress.prune.sparsity import is_24, mask_24
from vla_edge.compress.prune.structured import PrunePlan
from vla_edge.errors import InputError
from vla_edge.policy.reference import VlaForActions, default_spec, preset_config
from vla_edge.policy.tokenizer import ByteTokenizer

torch.set_num_threads(1)


def tiny(head: str = "bins", seed: int = 0, **overrides) -> VlaForActions:
    torch.manual_seed(seed)
    spec = default_spec("tiny", head)
    return VlaForActions(preset_config("tiny", spec, **overrides)).eval()


def batch_of(model, n: int = 16, seed: int = 1) -> dict:
    demos = synthetic_demos(model.policy_spec, n, seed)
    collate = Collator(ByteTokenizer(model.policy_spec.instruction.max_tokens), 8)
    return collate([demos[i] for i in range(n)])


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny bins teacher behaviour-cloned on synthetic demonstrations, and the data."""
    from vla_edge.compress.distill.synthetic import fit_synthetic

    root = tmp_path_factory.mktemp("prune")
    model = tiny("bins", vision_layers=3, mlp_ratio=4.0)
    demos = synthetic_demos(model.policy_spec, 320, seed=0)
    demos.save(root / "demos.npz")
    fit_synthetic(model, demos, root / "teacher", steps=120)
    return root


def test_identity_plan_reproduces_the_model():
    model = tiny("flow")
    b = batch_of(model)
    same = apply_plan(model, identity_plan(model))
    with torch.no_grad():
        assert torch.equal(
            model(b["images"], b["input_ids"], b["attention_mask"], b["state"]),
            same(b["images"], b["input_ids"], b["attention_mask"], b["state"]),
        )


def test_pruning_a_head_equals_zeroing_it():
    """Removing head 1 of vision block 0 and MLP channels 0..63 of fusion block 0 gives the
    same readout as zeroing their contributions in the parent."""
    model = tiny("continuous")
    b = batch_of(model)
    plan = identity_plan(model)
    plan.vision_heads[0] = [0]
    plan.fusion_mlp[0] = list(range(64, 128))
    pruned = apply_plan(model, plan)
    with torch.no_grad():
        hd = model.vision[0].attn.head_dim
        model.vision[0].attn.out.weight[:, hd : 2 * hd] = 0
        model.fusion[0].mlp.fc2.weight[:, :64] = 0
        torch.testing.assert_close(readout(pruned, b), readout(model, b), rtol=1e-5, atol=1e-5)


def test_pruned_model_is_physically_smaller_and_round_trips(tmp_path):
    model = tiny("bins", vision_layers=3, mlp_ratio=4.0)  # 2 heads of 32, MLP 256
    scores = random_scores(model, 0)
    blocks = {"vision": [0.3, 0.1, 0.2], "fusion": [1.0]}
    plan = make_plan(scores, blocks, ratio=0.5, drop_vision=1, token_pool=2, multiple=8)
    pruned = apply_plan(model, plan)
    assert plan.vision_layers == [0, 2]  # the block with the smallest ablation score went
    d, before = 64, sum(p.numel() for p in model.parameters())
    attn_removed = lambda heads: 3 * (d * 32 + 32) + d * 32  # noqa: E731  one head of 32
    mlp_removed = (d + 1 + d) * 128  # fc1 row + bias + fc2 column, 128 of 256 channels
    block = sum(p.numel() for p in model.vision[1].parameters())
    expected = before - block - 2 * (attn_removed(1) + mlp_removed)  # two vision blocks left
    expected -= 2 * attn_removed(1) + mlp_removed  # fusion: self + cross attention, MLP
    assert sum(p.numel() for p in pruned.parameters()) == expected
    cfg = pruned.config
    assert cfg.vision_layers == 2 and cfg.vision_block_heads == [1, 1]
    assert cfg.vision_block_mlp == [128, 128] and cfg.fusion_block_heads == [[1, 1]]
    assert cfg.vision_token_pool == 2
    pruned.save_pretrained(tmp_path / "ck")
    back = VlaForActions.from_pretrained(str(tmp_path / "ck")).eval()
    b = batch_of(model)
    with torch.no_grad():
        torch.testing.assert_close(readout(back, b), readout(pruned, b))


def test_token_pool_reduces_tokens_and_rejects_bad_grids():
    model = tiny("bins")
    plan = identity_plan(model)
    plan.token_pool = 2
    pruned = apply_plan(model, plan)
    frame = torch.zeros(1, 64, 64, 3, dtype=torch.uint8)
    assert pruned.cameras["front"](frame).shape[1] == model.cameras["front"](frame).shape[1] // 4
    plan.token_pool = 3
    with pytest.raises(ValueError, match="not divisible by token pool"):
        apply_plan(model, plan)


def test_every_vision_block_may_go_but_one_fusion_block_stays():
    model = tiny("bins")
    scores, blocks = (
        random_scores(model, 0),
        {
            "vision": [1.0] * len(model.vision),
            "fusion": [1.0] * len(model.fusion),
        },
    )
    plan = make_plan(scores, blocks, 0.5, drop_vision=len(model.vision), drop_fusion=0)
    pruned = apply_plan(model, plan)
    assert len(pruned.vision) == 0 and pruned.config.vision_layers == 0
    b = batch_of(model)
    with torch.no_grad():
        out = pruned(b["images"], b["input_ids"], b["attention_mask"], b["state"])
    assert out.shape == model(b["images"], b["input_ids"], b["attention_mask"], b["state"]).shape
    with pytest.raises(InputError, match="keep at least 1"):
        make_plan(scores, blocks, 0.5, drop_fusion=len(model.fusion))


def test_keep_count_rounds_to_gemm_friendly_widths():
    assert keep_count(256, 0.5, 8) == 128
    assert keep_count(256, 0.3, 8) == 176
    assert keep_count(2, 0.9) == 1
    assert keep_count(8, 0.5, 8) == 4  # too small to round: plain count


def _gap(parent, child, batch) -> float:
    with torch.no_grad():
        return float(torch.mean((readout(parent, batch) - readout(child, batch)) ** 2))


@pytest.mark.parametrize("method", ["taylor", "magnitude"])
def test_importance_keeps_outputs_closer_than_random(trained, method):
    from vla_edge.compress.prune.api import importance_batches, unit_scores
    from vla_edge.compress.prune.importance import block_scores

    parent = VlaForActions.from_pretrained(str(trained / "teacher")).eval()
    demos = synthetic_demos(parent.policy_spec, 128, seed=5)
    collate = Collator(ByteTokenizer(32), 8)
    cfg = PruneConfig(ratio=0.5, method=method, batch_size=16, importance_batches=4)
    batches = importance_batches(demos, collate, cfg)
    blocks = block_scores(parent, batches[:2])
    held = collate([synthetic_demos(parent.policy_spec, 64, seed=9)[i] for i in range(64)])
    scored = apply_plan(parent, make_plan(unit_scores(parent, batches, method, 0), blocks, 0.75))
    rand = [apply_plan(parent, make_plan(random_scores(parent, s), blocks, 0.75)) for s in range(4)]
    assert _gap(parent, scored, held) < np.mean([_gap(parent, r, held) for r in rand])


def test_block_ablation_drops_an_inert_block(trained):
    from vla_edge.compress.prune.importance import block_scores

    parent = VlaForActions.from_pretrained(str(trained / "teacher")).eval()
    with torch.no_grad():  # make vision block 1 a no-op: its residual branches output zero
        parent.vision[1].attn.out.weight.zero_()
        parent.vision[1].attn.out.bias.zero_()
        parent.vision[1].mlp.fc2.weight.zero_()
        parent.vision[1].mlp.fc2.bias.zero_()
    scores = block_scores(parent, [batch_of(parent)])
    assert int(np.argmin(scores["vision"])) == 1 and scores["vision"][1] == pytest.approx(0)


def test_mask_24_keeps_the_two_largest_of_every_four():
    w = torch.tensor([[0.1, -3.0, 2.0, 0.5, 4.0, 0.0, -0.2, 0.3]])
    assert mask_24(w).tolist() == [[False, True, True, False, True, False, False, True]]
    assert is_24(w * mask_24(w)) and not is_24(w)


def test_sparse_prune_keeps_24_after_finetune_and_marks_the_bundle(trained, tmp_path):
    from vla_edge.compress.distill import TrainConfig
    from vla_edge.compress.prune import export_compressed, prune

    recover = RecoverConfig(train=TrainConfig(steps=12, batch_size=16, progress=False))
    cfg = PruneConfig(ratio=0.5, method="magnitude", sparsity="2:4", recover=recover)
    out = tmp_path / "sparse"
    result = prune(trained / "teacher", trained / "demos.npz", out, cfg)
    assert result["sparsity"]["all_2_4"] and result["sparsity"]["zero_fraction"] >= 0.5
    model = VlaForActions.from_pretrained(str(out))
    assert model.config.sparsity == "2:4"
    linears = [
        m
        for n, m in model.named_modules()
        if n.startswith(("vision.", "fusion.")) and isinstance(m, torch.nn.Linear)
    ]
    assert linears and all(is_24(m.weight) for m in linears)
    bundle = export_compressed(out, tmp_path / "bundle")
    assert bundle.manifest["validation"]["parity"]["passed"]
    assert bundle.manifest["sparsity"]["pattern"] == "2:4"
    assert bundle.manifest["lineage"]["settings"]["sparsity"] == "2:4"
    assert _onnx_24_fraction(bundle.graph_path("policy")) >= 12


def _onnx_24_fraction(path) -> int:
    """How many 2-D float initializers of the graph are 2:4 sparse along either axis."""
    import onnx
    from onnx import numpy_helper

    count = 0
    for init in onnx.load(str(path)).graph.initializer:
        arr = numpy_helper.to_array(init)
        if arr.ndim == 2 and arr.dtype == np.float32 and min(arr.shape) >= 4:
            t = torch.from_numpy(arr.copy())
            count += int(is_24(t) or is_24(t.T.contiguous()))
    return count


@pytest.mark.parametrize("head", ["bins", "flow"])
def test_pruned_checkpoint_exports_with_parity(trained, tmp_path, head):
    from vla_edge.compress.distill import TrainConfig
    from vla_edge.compress.prune import export_compressed
    from vla_edge.compress.prune.api import prune

    if head == "flow":
        ck = tmp_path / "flow-parent"
        tiny("flow", vision_layers=3).save_pretrained(ck)
    else:
        ck = trained / "teacher"
    cfg = PruneConfig(
        ratio=0.5,
        method="magnitude",
        drop_vision_layers=1,
        token_pool=2,
        recover=RecoverConfig(train=TrainConfig(steps=0)),
    )
    result = prune(ck, trained / "demos.npz", tmp_path / "p", cfg)
    assert result["parameters"]["pruned"] < result["parameters"]["parent"]
    bundle = export_compressed(tmp_path / "p", tmp_path / "b")
    assert bundle.manifest["validation"]["parity"]["passed"]
    assert "sparsity" not in bundle.manifest
    assert bundle.manifest["lineage"]["settings"]["compression"][0]["step"] == "prune"


def test_target_latency_picks_the_largest_model_that_meets_it(monkeypatch):
    """Latency is faked from the per-frame parameter count, so the choice is deterministic."""
    from vla_edge.compress.prune import search
    from vla_edge.compress.prune.importance import magnitude_scores

    model = tiny("bins", vision_layers=4, mlp_ratio=4.0)
    tokens = lambda m: 16 // m.config.vision_token_pool**2  # noqa: E731
    fake = lambda m, threads=2: sum(p.numel() for p in m.vision.parameters()) * tokens(m) / 1e5  # noqa: E731
    monkeypatch.setattr(search, "model_latency_ms", fake)
    full = fake(model)
    cfg = PruneConfig(target_latency_ms=full * 0.3, batch_size=4)
    blocks = {"vision": [4.0, 3.0, 2.0, 1.0], "fusion": [1.0]}
    plan, rows = search.search_plan(model, magnitude_scores(model), blocks, cfg)
    chosen = fake(apply_plan(model, plan))
    assert chosen <= cfg.target_latency_ms
    feasible = [r["latency_ms"] for r in rows if r["latency_ms"] <= cfg.target_latency_ms]
    assert chosen == max(feasible)
    with pytest.raises(InputError, match="no candidate meets"):
        search.search_plan(
            model, magnitude_scores(model), blocks, PruneConfig(target_latency_ms=1e-9)
        )


def test_prune_config_validation():
    with pytest.raises(InputError, match="--ratio R or --target-latency"):
        PruneConfig()
    with pytest.raises(InputError, match="not both"):
        PruneConfig(ratio=0.5, target_latency_ms=3.0)
    with pytest.raises(InputError, match="in \\[0, 1\\)"):
        PruneConfig(ratio=1.0)
    with pytest.raises(InputError, match="2:4"):
        PruneConfig(sparsity="1:2")
    PruneConfig(sparsity="2:4")  # sparsity alone is a valid recipe


def test_cli_prune_json(trained, tmp_path):
    from typer.testing import CliRunner

    from vla_edge.cli.main import app

    out = tmp_path / "cli"
    args = [
        "prune",
        str(trained / "teacher"),
        "--data",
        str(trained / "demos.npz"),
        "-o",
        str(out),
        "--ratio",
        "0.5",
        "--method",
        "magnitude",
        "--recover-steps",
        "3",
        "--json",
    ]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout[res.stdout.index("{") :])
    assert data["parameters"]["pruned"] < data["parameters"]["parent"]
    again = CliRunner().invoke(app, args)
    assert again.exit_code != 0 and "--resume" in again.output


def test_plan_dataclass_is_plain():
    plan = PrunePlan([0], [[0]], [[0]], [0], [[[0], [0]]], [[0]])
    assert plan.token_pool == 1 and plan.notes == []
