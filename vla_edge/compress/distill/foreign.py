"""Distillation from a foreign teacher: any policy that maps an observation batch to action
chunks in its units (the `Teacher` protocol) teaches a reference-family student.

A teacher of another family (a LeRobot ACT / Diffusion / SmolVLA / pi0 bundle, or any bundle
without a PyTorch reference source) exposes no logits or features, only actions, so its
actions on the data's observations become the student's targets: each frame is labelled once
by the teacher (through its ONNX bundle on the runtime: no lerobot import), then the student is
trained on the labels with its own head's loss (L1 on standardized actions for `continuous`,
flow matching for `flow`, bin cross-entropy for `bins`) and compared with the teacher on
held-out frames in the action's units, before and after.

`lerobot:PATH` (a LeRobot pretrained_model) is exported to a verified bundle first (needs
lerobot, Python >= 3.12); the bundle is what teaches.
"""

from __future__ import annotations

import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from vla_edge.errors import DataError, SpecError
from vla_edge.policy.spec import InstructionSpec, PolicySpec

LABEL_BATCH = 32


@runtime_checkable
class Teacher(Protocol):
    """Maps observations to action chunks. `actions(frames {camera: uint8 [B, H, W, 3]},
    instructions [B], states float32 [B, S] or None)` -> float32 [B, chunk, A] in the units of
    `spec.action`. `cameras` ({camera: LeRobot feature key} or None) says how a LeRobot
    dataset's features map onto `spec.cameras`; `describe()` goes into the student's lineage."""

    spec: PolicySpec
    cameras: dict[str, str] | None

    def actions(
        self, frames: dict[str, np.ndarray], instructions: list[str], states: np.ndarray | None
    ) -> np.ndarray: ...

    def describe(self) -> dict: ...


class BundleTeacher:
    """A bundle of any family, run by the runtime (ONNX Runtime by default)."""

    def __init__(self, path: str | Path, backend: str = "onnxrt", threads: int | None = None):
        from vla_edge.bundle import Bundle
        from vla_edge.policy.policy import Policy

        self.bundle = Bundle.load(path)
        self.policy = Policy.load(self.bundle.path, backend=backend, threads=threads)
        self.spec = self.policy.spec
        self.cameras = (self.bundle.manifest.get("lerobot") or {}).get("cameras")
        self.exported_from: str | None = None  # the lerobot:PATH it was exported from

    def actions(self, frames, instructions, states):
        return self.policy.predict_batch(frames, list(instructions), states)

    def describe(self) -> dict:
        lerobot = self.bundle.manifest.get("lerobot") or {}
        out = {
            "kind": "bundle",
            "path": str(self.bundle.path),
            "family": lerobot.get("adapter") or "vla-edge",
            "precision": self.bundle.precision,
        }
        if self.exported_from:
            out.update(path=None, exported_from=self.exported_from)
        return out

    def close(self) -> None:
        self.policy.close()


def is_foreign(source: str | Path) -> bool:
    """A teacher the reference distillation cannot read: `lerobot:PATH` / a LeRobot
    pretrained_model folder, a LeRobot bundle, or a bundle without a PyTorch source."""
    from vla_edge.policy.adapters.lerobot.checkpoint import is_lerobot

    if is_lerobot(source):
        return True
    path = Path(source)
    if not (path / "manifest.json").is_file():
        return False
    from vla_edge.bundle import Bundle

    bundle = Bundle.load(path)
    return "lerobot" in bundle.manifest or bundle.source_dir is None


def open_teacher(source: str | Path, work: Path, threads: int | None = None) -> Teacher:
    """A bundle teacher; `lerobot:PATH` is exported into `work` first (parity-checked against
    LeRobot's own pipeline, as `vla-edge export` does)."""
    from vla_edge.policy.adapters.lerobot.checkpoint import is_lerobot

    if is_lerobot(source):
        from vla_edge.policy.adapters.lerobot.export import export_lerobot

        export_lerobot(source, work / "teacher")
        teacher = BundleTeacher(work / "teacher", threads=threads)
        teacher.exported_from = str(source)
        return teacher
    return BundleTeacher(source, threads=threads)


# --- data and labels -----------------------------------------------------------------------------
def observations(data: str | Path, teacher: Teacher, limit: int | None = None):
    """ArrayDemos (frames, instructions, states) of the data, checked against the teacher's
    spec: a LeRobotDataset v3 folder (`lerobot:PATH`, mapped by the teacher's cameras),
    demonstrations or a .npz. The data's own actions are dropped: the teacher labels."""
    from vla_edge.compress.distill.data import ArrayDemos, open_demos
    from vla_edge.data import lerobot_dataset as lds

    spec = teacher.spec
    path, forced = lds.split_source(data)
    if forced or lds.is_lerobot_dataset(path):
        ds = lds.LeRobotDataset(path)
        _, _, frames, rows = lds.observations(ds, spec, limit or len(ds), teacher.cameras)
        states = rows.state if spec.state_dim else None
        return ArrayDemos(frames, rows.tasks, states, None), f"{lds.PREFIX}{path}"
    demos = open_demos(path, spec)
    if not isinstance(demos, ArrayDemos):
        raise DataError(f"{path}: a foreign teacher labels in-memory demonstrations only")
    n = len(demos) if limit is None else min(limit, len(demos))
    demos = demos.take(np.arange(n))
    return ArrayDemos(demos.frames, demos.instructions, demos.states, None), str(path)


def label(teacher: Teacher, demos, batch: int = LABEL_BATCH) -> np.ndarray:
    """The teacher's action chunks [N, chunk, A] on every frame of `demos`."""
    out = []
    for start in range(0, len(demos), batch):
        stop = min(start + batch, len(demos))
        frames = {k: v[start:stop] for k, v in demos.frames.items()}
        states = None if demos.states is None else demos.states[start:stop]
        out.append(np.asarray(teacher.actions(frames, demos.instructions[start:stop], states)))
    actions = np.concatenate(out).astype(np.float32)
    want = (len(demos), teacher.spec.action.chunk, teacher.spec.action.dim)
    if actions.shape != want:
        got = list(actions.shape)
        raise DataError(f"the teacher returned actions {got}, expected {list(want)}")
    return actions


# --- the student ---------------------------------------------------------------------------------
def student_spec(spec: PolicySpec, labels: np.ndarray, head: str) -> PolicySpec:
    """The teacher's cameras, state, action space (limits, chunk, n_action_steps) for a
    reference student with `head`; action statistics from the teacher's labels; the byte
    tokenizer (the student reads the data's task strings with its own text encoder)."""
    d = spec.to_dict()
    d["action"]["representation"] = head
    low, high = np.asarray(spec.action.low), np.asarray(spec.action.high)
    mean = labels.reshape(-1, labels.shape[-1]).mean(0)
    std = np.maximum(labels.reshape(-1, labels.shape[-1]).std(0), 1e-3 * (high - low))
    d["normalization"]["action_mean"] = mean.astype(float).tolist()
    d["normalization"]["action_std"] = std.astype(float).tolist()
    d["instruction"] = asdict(InstructionSpec())
    return PolicySpec.from_dict(d)


def build_student(spec: PolicySpec, head: str, preset: str, overrides: dict, seed: int):
    import torch

    from vla_edge.compress.distill.student import STUDENT_FIELDS
    from vla_edge.policy.reference import PRESETS, VlaConfig, VlaForActions

    if preset not in PRESETS:
        raise SpecError(
            f"unknown student preset {preset!r} for a foreign teacher; choose {list(PRESETS)}"
        )
    sizes = {**PRESETS[preset], **{k: v for k, v in overrides.items() if k in STUDENT_FIELDS}}
    cfg = VlaConfig(spec=spec.to_dict(), head=head, preset=f"student-{preset}", **sizes)
    torch.manual_seed(seed)
    try:
        return VlaForActions(cfg)
    except ValueError as exc:  # a layer refuses the sizes (camera vs patch, heads vs width)
        cams = ", ".join(f"{c.name} {c.width}x{c.height}" for c in spec.cameras)
        raise SpecError(
            f"cannot build a {preset} student for the teacher's cameras ({cams}): {exc}; pick "
            f"a patch size that divides them, e.g. --set patch_size=8"
        ) from None


@dataclass
class ForeignResult:
    student: object
    summary: dict


def distill_foreign(teacher: Teacher, data, out, config) -> ForeignResult:
    """Label the data with the teacher, train a reference student on the labels, save it."""
    from vla_edge.compress.distill.api import KEEP, split_holdout
    from vla_edge.compress.distill.batches import Collator
    from vla_edge.compress.distill.losses import BCObjective
    from vla_edge.compress.distill.student import count_parameters
    from vla_edge.compress.distill.trainer import Fit
    from vla_edge.policy.checkpoints import save_checkpoint
    from vla_edge.policy.tokenizer import load_tokenizer

    out = Path(out)
    demos, source = observations(data, teacher, config.frames)
    demos.actions = label(teacher, demos)
    head = config.student_head
    spec = student_spec(teacher.spec, demos.actions, head)
    train, held = split_holdout(demos, config.holdout, config.train.seed)
    student = build_student(spec, head, config.student_preset, config.overrides, config.train.seed)
    student.config.compression = [
        {
            "step": "distill",
            "teacher": teacher.describe(),
            "targets": "the teacher's action chunks (units of the spec) on the data's frames",
            "data": source,
            "frames": len(demos),
            "student_preset": config.student_preset,
            "student_head": head,
            "overrides": config.overrides,
            "steps": config.train.steps,
            "seed": config.train.seed,
        }
    ]
    tok = load_tokenizer("byte", spec.instruction.max_tokens, None, "")
    collate = Collator(tok, spec.state_dim)
    before = compare_actions(student, held, collate)
    fit = Fit(
        BCObjective(student).train(),
        None,
        train,
        collate,
        config.train,
        out,
        save=lambda m: save_checkpoint(m, out, keep=KEEP),
    )
    result = fit.run(resume=False)
    after = compare_actions(student, held, collate)
    history = [h["loss"] for h in result["history"]]
    k = max(1, min(20, len(history) // 4))
    summary = {
        "checkpoint": str(out),
        "teacher": teacher.describe(),
        "data": source,
        "train_frames": len(train),
        "student_parameters": count_parameters(student),
        "student_per_frame_parameters": count_parameters(student, per_frame=True),
        "steps": result["steps"],
        "first_loss": float(np.mean(history[:k])) if history else None,
        "final_loss": float(np.mean(history[-k:])) if history else None,
        "held_out_before": before,
        "held_out_after": after,
    }
    return ForeignResult(student, summary)


def compare_actions(student, demos, collate, batch: int = 32) -> dict:
    """Student vs teacher labels on held-out frames: mean and max absolute error per action
    dimension, in the spec's units."""
    import torch

    student.eval()
    errs = []
    with torch.no_grad():
        for start in range(0, len(demos), batch):
            b = collate([demos[i] for i in range(start, min(start + batch, len(demos)))])
            got = student(b["images"], b["input_ids"], b["attention_mask"], b["state"])
            errs.append((got - b["actions"]).abs().reshape(-1, got.shape[-1]).numpy())
    err = np.concatenate(errs) if errs else np.zeros((0, 1))
    return {
        "action_mae": [float(v) for v in err.mean(0)],
        "action_mae_mean": float(err.mean()),
        "action_max": float(err.max()) if err.size else 0.0,
        "frames": len(demos),
    }


def run(teacher_source, data, out, config, threads: int | None = None) -> dict:
    """The CLI's entry: open the teacher (exporting `lerobot:PATH`), distill, close."""
    with tempfile.TemporaryDirectory() as tmp:
        teacher = open_teacher(teacher_source, Path(tmp), threads)
        try:
            res = distill_foreign(teacher, data, out, config)
        finally:
            teacher.close()
    return res.summary
