"""`distill(teacher, data, out, DistillConfig(...))`: a smaller student learns the teacher's
outputs on demonstration frames (and on closed-loop rollouts in the simulator, labelled by the
teacher), then is compared with the teacher on held-out frames."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vla_edge.compress.distill.batches import Collator
from vla_edge.compress.distill.data import open_demos
from vla_edge.compress.distill.losses import DistillObjective, head_output, output_loss, readout
from vla_edge.compress.distill.student import (
    copy_text_encoder,
    count_parameters,
    load_reference,
    student_config,
)
from vla_edge.compress.distill.trainer import STATE_FILE, Fit, TrainConfig, dist_info
from vla_edge.errors import InputError

# files of a distillation run that survive each checkpoint save (resume reads them)
KEEP = (STATE_FILE, "rollouts_round*.npz")


@dataclass
class DistillConfig:
    student_preset: str = "tiny"
    overrides: dict[str, Any] = field(default_factory=dict)
    temperature: float = 2.0
    feature_weight: float = 0.0
    bc_weight: float = 0.0
    copy_text_encoder: bool = True
    freeze_text_encoder: bool = True
    rollouts: int = 0
    rollout_suite: str | None = None
    # "teacher": the teacher's episodes join the data before training. "student" (DAgger): the
    # student's own episodes, labelled by the teacher, join at `rollout_rounds` evenly spaced
    # points of the training.
    rollout_policy: str = "teacher"
    rollout_rounds: int = 1
    holdout: int = 256
    train: TrainConfig = field(default_factory=TrainConfig)
    # a foreign teacher (vla_edge.compress.distill.foreign): the student's head, and at most
    # this many frames of the data labelled by the teacher (None: all)
    student_head: str = "continuous"
    frames: int | None = None

    def __post_init__(self) -> None:
        if self.temperature <= 0:
            raise InputError(f"--temperature must be > 0, got {self.temperature}")
        if self.feature_weight < 0 or self.bc_weight < 0:
            raise InputError("loss weights must be >= 0")
        if self.rollouts < 0 or self.holdout < 0:
            raise InputError("--rollouts and the held-out count must be >= 0")
        if self.rollout_policy not in ("teacher", "student"):
            raise InputError(
                f"--rollout-policy must be 'teacher' or 'student', got {self.rollout_policy!r}"
            )
        if self.rollout_rounds < 1:
            raise InputError(f"--rollout-rounds must be >= 1, got {self.rollout_rounds}")
        if self.student_head not in ("continuous", "flow", "bins"):
            raise InputError(
                f"--student-head must be continuous, flow or bins, got {self.student_head!r}"
            )
        if self.frames is not None and self.frames < 2:
            raise InputError(f"--max-frames must be >= 2, got {self.frames}")


def split_holdout(demos, holdout: int, seed: int):
    """(train, held-out) views; held-out is at most a quarter of the data."""
    from vla_edge.compress.distill.data import ArrayDemos

    n = len(demos)
    k = min(holdout, n // 4)
    order = np.random.default_rng(seed).permutation(n)
    held, train = np.sort(order[:k]), np.sort(order[k:])
    if isinstance(demos, ArrayDemos):
        return demos.take(train), demos.take(held)
    return _Subset(demos, train), _Subset(demos, held)


class _Subset:
    def __init__(self, base, index) -> None:
        self.base, self.index = base, [int(i) for i in index]

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, i: int):
        return self.base[self.index[i]]


@torch.no_grad()
def compare(student, teacher, demos, collate, temperature: float = 1.0, batch: int = 32) -> dict:
    """Teacher-student gap on held-out frames: the distillation loss (T given), the mean
    absolute action difference in physical units, and identical bins for bins heads."""
    losses, errs, same = [], [], []
    kind = teacher.config.head
    for start in range(0, len(demos), batch):
        b = collate([demos[i] for i in range(start, min(start + batch, len(demos)))])
        ft, fs = readout(teacher, b), readout(student, b)
        losses.append(
            float(
                output_loss(kind, head_output(student, fs), head_output(teacher, ft), temperature)
            )
        )
        at, as_ = teacher.head(ft), student.head(fs)
        errs.append((at - as_).abs().mean(dim=(0, 1)).numpy())
        if kind == "bins":
            same.append(float((at == as_).float().mean()))
    out = {
        "output_loss": float(np.mean(losses)),
        "action_mae": [float(v) for v in np.mean(errs, axis=0)],
        "frames": len(demos),
    }
    if same:
        out["identical_bins"] = float(np.mean(same))
    return out


def build_student(teacher, config: DistillConfig):
    from vla_edge.policy.reference import VlaForActions

    cfg = student_config(teacher, config.student_preset, config.overrides, config.copy_text_encoder)
    torch.manual_seed(config.train.seed)
    student = VlaForActions(cfg)
    from vla_edge.policy.reference.vision import is_pretrained_encoder, load_pretrained_vision

    if is_pretrained_encoder(cfg.vision_encoder):  # the ImageNet trunk, frozen as in training
        load_pretrained_vision(student)
    copied = config.copy_text_encoder and copy_text_encoder(teacher, student)
    if copied and config.freeze_text_encoder:
        for p in student.text.parameters():
            p.requires_grad_(False)
    return student, copied


def distill(
    teacher_path: str | Path,
    data: str | Path,
    out: str | Path,
    config: DistillConfig | None = None,
    resume: bool = False,
) -> dict:
    """Train and save the student; returns a summary (sizes, held-out gap before/after)."""
    return train_student(teacher_path, data, out, config, resume)[1]


def train_student(teacher_path, data, out, config=None, resume=False) -> tuple:
    """(student model, summary) — see `distill`."""
    from vla_edge.policy.checkpoints import save_checkpoint
    from vla_edge.policy.tokenizer import load_tokenizer

    config = config or DistillConfig()
    out = Path(out)
    teacher, tok_dir = load_reference(teacher_path)
    for p in teacher.parameters():
        p.requires_grad_(False)
    spec = teacher.policy_spec
    train, held = split_holdout(open_demos(data, spec), config.holdout, config.train.seed)
    tok = load_tokenizer(
        spec.instruction.tokenizer, spec.instruction.max_tokens, tok_dir, spec.instruction.suffix
    )
    on_policy = config.rollouts > 0 and config.rollout_policy == "student"
    if config.rollouts and not on_policy:
        from vla_edge.compress.distill.rollouts import rollout_frames

        train = rollout_frames(teacher, train, config.rollouts, config.rollout_suite, tok)
    collate = Collator(tok, spec.state_dim)
    student, copied = build_student(teacher, config)
    student.config.compression = [_lineage(teacher_path, config, copied)]
    objective = DistillObjective(
        student,
        teacher.config.hidden_size,
        config.temperature,
        config.feature_weight,
        config.bc_weight,
        text_cache={} if copied and config.freeze_text_encoder else None,
    )
    before = compare(student.eval(), teacher, held, collate, config.temperature)
    fit = Fit(
        objective.train(),
        teacher,
        train,
        collate,
        config.train,
        out,
        save=lambda m: save_checkpoint(m, out, tokenizer=tok_dir, keep=KEEP),
        teacher_cache={},
    )
    result = _dagger(fit, student, config, tok, resume) if on_policy else fit.run(resume=resume)
    after = compare(student.eval(), teacher, held, collate, config.temperature)
    return student, _summary(teacher, student, out, result, before, after, len(fit.demos), copied)


def _dagger(fit: Fit, student, config: DistillConfig, tok, resume: bool) -> dict:
    """Train in rounds + 1 phases; before each later phase the student acts for
    `config.rollouts` episodes and their observations (labelled by the teacher on the fly)
    join the data. Rollout frames are saved in the output, so --resume rebuilds the same data."""
    from vla_edge.compress.distill.data import ArrayDemos
    from vla_edge.compress.distill.rollouts import Concat, policy_frames, student_round_seed

    total, rounds = config.train.steps, config.rollout_rounds
    bounds = [total * (r + 1) // (rounds + 1) for r in range(rounds)] + [total]
    saved = fit.saved_step() if resume else 0
    current = not saved  # does the student in memory hold the saved weights?
    history, first = [], None
    for r, until in enumerate(bounds):
        if r > 0:
            path = fit.out / f"rollouts_round{r}.npz"
            if path.is_file():
                frames = ArrayDemos.load(path)
            else:
                if not current:  # resumed at a round boundary: act with the saved student
                    fit.load_weights()
                    current = True
                frames = policy_frames(
                    student, config.rollouts, config.rollout_suite, tok, student_round_seed(r)
                )
                if dist_info()[0] == 0:  # every rank acts alike (same weights); one writes
                    tmp = path.with_name(f".{path.name}.tmp.npz")
                    frames.save(tmp)
                    tmp.replace(path)
            fit.demos = Concat(fit.demos, frames)
        if saved >= until:
            continue
        res = fit.run(resume=resume or r > 0, until=until)
        saved, current = until, True
        first = res["start_step"] if first is None else first
        history += res["history"]
    return {"start_step": first or 0, "steps": total, "history": history}


def _lineage(teacher_path, config: DistillConfig, copied: bool) -> dict:
    return {
        "step": "distill",
        "teacher": str(teacher_path),
        "student_preset": config.student_preset,
        "overrides": config.overrides,
        "temperature": config.temperature,
        "feature_weight": config.feature_weight,
        "bc_weight": config.bc_weight,
        "steps": config.train.steps,
        "rollouts": config.rollouts,
        "rollout_policy": config.rollout_policy,
        "rollout_rounds": config.rollout_rounds,
        "text_encoder_copied": copied,
        "seed": config.train.seed,
    }


def _summary(teacher, student, out, result, before, after, n_train, copied) -> dict:
    rank, world = dist_info()
    last = result["history"][-20:]
    return {
        "checkpoint": str(out),
        "teacher_parameters": count_parameters(teacher),
        "student_parameters": count_parameters(student),
        "teacher_per_frame_parameters": count_parameters(teacher, per_frame=True),
        "student_per_frame_parameters": count_parameters(student, per_frame=True),
        "train_frames": n_train,
        "processes": world,
        "resumed_from_step": result["start_step"],
        "steps": result["steps"],
        "final_loss": float(np.mean([h["loss"] for h in last])) if last else None,
        "text_encoder_copied": copied,
        "held_out_before": before,
        "held_out_after": after,
    }
