"""Autoregressive teacher -> parallel (OFT) student: starts from the teacher's weights, learns the
teacher's greedy tokens, exports without a decode step; the CLI route and its refusal."""

import json

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from tests.sim.helpers import write_synthetic_demos
from vla_edge.cli.main import app
from vla_edge.compress.distill.parallel import (
    ParallelDistillConfig,
    agreement,
    distill_parallel,
    greedy_labels,
    split,
    student_from,
)
from vla_edge.train.bc import TrainConfig, train

TINY = {"decoder.hidden_size": 32, "decoder.num_hidden_layers": 1, "vision_layers": 1}


@pytest.fixture(scope="module")
def teacher(tmp_path_factory):
    root = tmp_path_factory.mktemp("ar-teacher")
    data = write_synthetic_demos(root / "d", episodes=4)
    cfg = TrainConfig(
        preset="tiny",
        head="ar",
        steps=150,
        batch=16,
        warmup=5,
        threads=1,
        lr=3e-3,
        chunk=2,
        overrides=TINY,
    )
    train(data, root / "t", cfg, progress=False)
    return root / "t", data


def test_student_starts_from_the_teacher(teacher):
    from vla_edge.backends.torch import ModelFromCheckpoint

    t = ModelFromCheckpoint(teacher[0])()
    s = student_from(t)
    assert s.config.decoding == "parallel" and s.action_queries.shape == (8, 32)
    w = "decoder.model.layers.0.mlp.up_proj.weight"
    assert torch.equal(s.state_dict()[w], t.state_dict()[w])


def test_student_learns_the_teachers_tokens(teacher, tmp_path):
    from vla_edge.backends.torch import ModelFromCheckpoint
    from vla_edge.export import export_checkpoint
    from vla_edge.policy.tokenizer import ByteTokenizer
    from vla_edge.sim.data import DemoDataset

    ck, data = teacher
    cfg = ParallelDistillConfig(steps=300, batch=16, warmup=5, lr=3e-3, holdout=16, bc_weight=0.0)
    summary = distill_parallel(ck, data, tmp_path / "s", cfg, progress=False)
    assert summary["train_frames"] == 80 and summary["held_out_after"]["frames"] == 16
    t, s = ModelFromCheckpoint(ck)(), ModelFromCheckpoint(tmp_path / "s")()
    arr = DemoDataset(data).arrays()
    tok = ByteTokenizer(t.policy_spec.instruction.max_tokens)
    rows, _ = split(arr, 16)
    labels = greedy_labels(t, arr, tok, rows, 64)
    fitted = agreement(s, labels, arr, tok, rows)
    start = agreement(student_from(t).eval(), labels, arr, tok, rows)
    assert fitted["identical_tokens"] > max(0.3, start["identical_tokens"] + 0.25)
    b = export_checkpoint(tmp_path / "s", tmp_path / "b")
    assert [g["role"] for g in b.graphs] == ["vision_encoder", "prefix", "prefill"]
    assert b.manifest["decoding"]["graph_calls_per_action"] == 2


def test_cli_routes_an_autoregressive_teacher(teacher, tmp_path):
    ck, data = teacher
    r = CliRunner().invoke(
        app,
        [
            "distill",
            str(ck),
            "--data",
            str(data),
            "-o",
            str(tmp_path / "x"),
            "--student-preset",
            "tiny",
        ],
    )
    assert r.exit_code == 1 and "--student-preset parallel" in r.output
    r = CliRunner().invoke(
        app,
        [
            "distill",
            str(ck),
            "--data",
            str(data),
            "-o",
            str(tmp_path / "p"),
            "--student-preset",
            "parallel",
            "--steps",
            "3",
            "--batch-size",
            "8",
            "--json",
        ],
    )
    assert r.exit_code == 0, r.output
    out = json.loads(r.output[r.output.index("{") :])
    assert out["steps"] == 3 and np.isfinite(out["final_loss"])
