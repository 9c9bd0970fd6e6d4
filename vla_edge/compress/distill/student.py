"""Teachers in, students out: load a teacher (checkpoint or bundle with its source), and build a
student of a preset (or custom sizes) for the teacher's own PolicySpec."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from vla_edge.errors import CheckpointError, SpecError

# Fields a custom student may set (`--set key=value`).
STUDENT_FIELDS = {
    "hidden_size": int,
    "patch_size": int,
    "vision_layers": int,
    "vision_heads": int,
    "text_layers": int,
    "text_heads": int,
    "fusion_layers": int,
    "fusion_heads": int,
    "fusion_type": str,
    "mlp_ratio": float,
    "flow_hidden": int,
    "flow_steps": int,
    "vision_token_pool": int,
    # a teacher with a pretrained camera encoder (EfficientNet-Lite0) passes it on: the student
    # keeps the ImageNet trunk and may see a smaller one (fewer blocks, a pooled frame)
    "vision_backbone_blocks": int,
    "vision_finetune_blocks": int,
    "vision_input_pool": int,
}
VISION_FIELDS = ("vision_encoder", "vision_backbone_blocks", "vision_finetune_blocks")


def checkpoint_dir(path: str | Path) -> Path:
    """A reference checkpoint directory, or the source/ checkpoint inside a bundle."""
    path = Path(path)
    if (path / "manifest.json").is_file():
        from vla_edge.bundle import Bundle

        src = Bundle.load(path).source_dir
        if src is None:
            raise CheckpointError(
                f"bundle {path} carries no PyTorch source (exported with --no-source); pass the "
                "checkpoint directory it was exported from"
            )
        return src
    return path


def load_reference(path: str | Path):
    """(model in eval mode, tokenizer dir or None) from a checkpoint or bundle."""
    from vla_edge.backends.torch import ModelFromCheckpoint

    ckpt = checkpoint_dir(path)
    model = ModelFromCheckpoint(ckpt)()
    tok = ckpt / "tokenizer"
    return model, (tok if tok.is_dir() else None)


def parse_overrides(items: list[str] | None) -> dict[str, Any]:
    """['hidden_size=128', 'vision_layers=4'] -> {'hidden_size': 128, 'vision_layers': 4}."""
    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or key not in STUDENT_FIELDS:
            raise SpecError(
                f"--set takes key=value with key one of {sorted(STUDENT_FIELDS)}, got {item!r}"
            )
        try:
            out[key] = STUDENT_FIELDS[key](value)
        except ValueError as exc:
            raise SpecError(
                f"--set {key}: {value!r} is not a {STUDENT_FIELDS[key].__name__}"
            ) from exc
    return out


def student_config(teacher, preset: str, overrides: dict[str, Any], copy_text: bool):
    """VlaConfig of a student for the teacher's spec: preset sizes (or the teacher's own, for
    'custom') with overrides; same head, normalization, flow noise; the teacher's pretrained
    text encoder when it has one and copy_text is set."""
    from vla_edge.policy.reference import PRESETS, VlaConfig

    tcfg = teacher.config
    if preset == "custom":
        sizes = {k: getattr(tcfg, k) for k in STUDENT_FIELDS}
    elif preset in PRESETS:
        sizes = dict(PRESETS[preset])
    else:
        raise SpecError(f"unknown student preset {preset!r}; choose {[*PRESETS, 'custom']}")
    from vla_edge.policy.reference.vision import is_pretrained_encoder

    if is_pretrained_encoder(getattr(tcfg, "vision_encoder", "patch")):
        sizes.update({k: getattr(tcfg, k) for k in VISION_FIELDS})
        sizes.setdefault("vision_input_pool", getattr(tcfg, "vision_input_pool", 1))
    else:
        vision_only = set(overrides) & {*VISION_FIELDS, "vision_input_pool"}
        if vision_only:
            raise SpecError(
                f"--set {sorted(vision_only)} applies to a teacher with a pretrained camera "
                f"encoder; this teacher's vision encoder is {tcfg.vision_encoder!r}"
            )
    sizes.update(overrides)
    text: dict[str, Any] = {"text_encoder": "own", "vocab_size": tcfg.vocab_size}
    spec = dict(tcfg.spec)
    if tcfg.text_encoder != "own":
        if not copy_text:
            raise SpecError(
                "the teacher uses a pretrained text encoder and its tokenizer; a student with "
                "its own text encoder would need another tokenizer: keep --copy-text-encoder"
            )
        text = {k: getattr(tcfg, k) for k in ("text_encoder", "text_config", "vocab_size")}
    return VlaConfig(
        spec=spec,
        head=tcfg.head,
        flow_noise_seed=tcfg.flow_noise_seed,
        image_mean=tcfg.image_mean,
        image_std=tcfg.image_std,
        preset=f"student-{preset}",
        **text,
        **sizes,
    )


def copy_text_encoder(teacher, student) -> bool:
    """Copy the teacher's text encoder weights where the shapes fit (the whole text module, or
    the pretrained encoder without its projection). Returns whether anything was copied."""
    t_state = teacher.text.state_dict()
    s_state = student.text.state_dict()
    if t_state.keys() == s_state.keys() and all(
        t_state[k].shape == s_state[k].shape for k in t_state
    ):
        student.text.load_state_dict(t_state)
        return True
    if hasattr(teacher.text, "encoder") and hasattr(student.text, "encoder"):
        student.text.encoder.load_state_dict(teacher.text.encoder.state_dict())
        return True
    return False


def count_parameters(model, per_frame: bool = False) -> int:
    """All parameters, or only those the per-frame policy graph uses (not the text encoder)."""
    if not per_frame:
        return sum(p.numel() for p in model.parameters())
    return sum(p.numel() for n, p in model.named_parameters() if not n.startswith("text."))
