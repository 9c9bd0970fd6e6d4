"""Creating reference checkpoints (random init) on disk, atomically."""

from __future__ import annotations

import os
from pathlib import Path

from vla_edge.errors import CheckpointError


def create_checkpoint(
    out: Path,
    preset: str,
    head: str,
    image_size: int | None,
    cameras: tuple[str, ...],
    chunk: int,
    state_dim: int,
    text_encoder: str,
    seed: int,
    force: bool,
) -> dict:
    import torch

    from vla_edge.outputs import check_output
    from vla_edge.policy.reference import (
        VlaForActions,
        default_spec,
        load_minilm_weights,
        minilm_config,
        preset_config,
    )

    out = check_output(out, force)
    if text_encoder not in ("own", "minilm"):
        raise CheckpointError(f"text encoder must be 'own' or 'minilm', got {text_encoder!r}")
    spec = default_spec(
        preset if preset in ("tiny", "small", "base") else "tiny",
        head,
        image_size,
        chunk,
        cameras,
        state_dim,
    )
    torch.manual_seed(seed)
    cfg = minilm_config(spec, preset) if text_encoder == "minilm" else preset_config(preset, spec)
    try:
        model = VlaForActions(cfg)
    except ValueError as exc:  # a layer refuses the sizes (camera vs patch, heads vs width)
        raise CheckpointError(
            f"cannot build a {preset}/{head} model with these settings: {exc}; --image-size "
            f"must be a multiple of the patch size {cfg.patch_size} (e.g. "
            f"{max(cfg.patch_size, (spec.cameras[0].height // cfg.patch_size) * cfg.patch_size)})"
        ) from None
    if text_encoder == "minilm":
        load_minilm_weights(model)
    save_checkpoint(model, out, tokenizer=_minilm_tokenizer() if text_encoder == "minilm" else None)
    return {
        "path": str(out),
        "preset": preset,
        "head": head,
        "text_encoder": text_encoder,
        "parameters": sum(p.numel() for p in model.parameters()),
        "spec": spec.to_dict(),
    }


def _minilm_tokenizer():
    from vla_edge.policy.tokenizer import minilm_dir

    return minilm_dir()


def save_checkpoint(
    model, out: Path, tokenizer: Path | None = None, keep: tuple[str, ...] = ()
) -> Path:
    """save_pretrained into a temporary sibling, then rename into place. Files of the old
    directory matching a `keep` glob (training state, rollout frames) move into the new one."""
    from transformers.utils import logging as hf_logging

    from vla_edge.outputs import PartialDir, check_replaceable

    out = Path(out)
    check_replaceable(out, leftovers=keep)
    hf_logging.disable_progress_bar()
    with PartialDir(out) as partial:
        tmp = partial.path
        model.save_pretrained(str(tmp), safe_serialization=True)
        if tokenizer is not None:
            from transformers import AutoTokenizer

            tok = AutoTokenizer.from_pretrained(str(tokenizer), local_files_only=True)
            tok.save_pretrained(str(tmp / "tokenizer"))
        moved = []
        try:
            for pattern in keep if out.exists() else ():
                for f in out.glob(pattern):
                    if not (tmp / f.name).exists():
                        os.replace(f, tmp / f.name)
                        moved.append(f)
            partial.commit()
        except BaseException:
            for f in moved:  # the kept files go back where they were
                os.replace(tmp / f.name, f)
            raise
    return out
