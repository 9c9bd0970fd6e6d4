"""Checks that refuse a broken model before anything is written: non-finite weights (naming
the tensors) and, for a checkpoint, tensors missing from or unexpected in its file (which
transformers would otherwise initialise at random or drop without a word)."""

from __future__ import annotations

from vla_edge.errors import VlaEdgeError

SHOWN = 6  # tensor names listed in a message before "and N more"


def _names(items: list[str]) -> str:
    shown = ", ".join(items[:SHOWN])
    more = len(items) - SHOWN
    return shown + (f" and {more} more" if more > 0 else "")


def non_finite_tensors(module) -> list[str]:
    """'name (k of n values)' for each parameter holding NaN or inf and each floating buffer
    holding NaN (a buffer may hold -inf on purpose, e.g. an additive attention mask)."""
    import torch

    bad = []
    with torch.no_grad():
        for name, p in module.named_parameters():
            if p.is_floating_point() and not bool(torch.isfinite(p).all()):
                bad.append(f"{name} ({int((~torch.isfinite(p)).sum())} of {p.numel()} values)")
        for name, b in module.named_buffers():
            if b.is_floating_point() and bool(torch.isnan(b).any()):
                bad.append(f"{name} ({int(torch.isnan(b).sum())} of {b.numel()} values NaN)")
    return bad


def check_finite_weights(module, what: str, error: type[VlaEdgeError]) -> None:
    """Raise `error` naming every tensor of `module` that holds NaN or inf."""
    bad = non_finite_tensors(module)
    if bad:
        raise error(
            f"{what} has non-finite weights (NaN or inf) in {len(bad)} tensor(s): {_names(bad)}; "
            "a policy computed from them cannot act. Retrain or re-save it from finite weights "
            "(a diverged training run, or a failed conversion, writes NaN)"
        )


def check_load_report(info: dict, what: str, error: type[VlaEdgeError]) -> None:
    """Raise `error` when transformers' loading info names missing, unexpected or mismatched
    tensors (a strict state-dict comparison)."""
    parts = []
    for key, label in (
        ("missing_keys", "missing from the file (they would be initialised at random)"),
        ("unexpected_keys", "in the file but not in the model (they would be ignored)"),
        ("mismatched_keys", "of another shape than the model's"),
    ):
        names = sorted(str(k if isinstance(k, str) else k[0]) for k in info.get(key) or ())
        if names:
            parts.append(f"{len(names)} tensor(s) {label}: {_names(names)}")
    if parts:
        raise error(
            f"{what} does not match its config: " + "; ".join(parts) + ". The weights file is "
            "incomplete or belongs to another model: re-save the checkpoint (vla-edge train / "
            "model create) or point at the folder the config.json came with"
        )
