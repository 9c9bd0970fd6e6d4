"""Carry a pruned/sparse checkpoint's compression record into the bundle exported from it.

`vla-edge export` writes an ordinary bundle; `mark_bundle` then adds, without touching any
hashed file:
- `lineage.settings.sparsity = "2:4"` and `lineage.settings.compression` (the steps applied);
- a top-level `sparsity` block {"pattern": "2:4", "build_flag": "--sparsity", ...} that tells
  `vla-edge build` (TensorRT SPARSE_WEIGHTS) the weights are 2:4 sparse.
"""

from __future__ import annotations

import json
from pathlib import Path

from vla_edge.bundle import Bundle, sparsity_marker
from vla_edge.errors import BundleError


def checkpoint_record(ckpt: Path) -> dict:
    cfg = json.loads((Path(ckpt) / "config.json").read_text())
    return {"sparsity": cfg.get("sparsity"), "compression": cfg.get("compression")}


def mark_bundle(bundle_dir: str | Path, ckpt: str | Path | None = None) -> Bundle:
    """Record the checkpoint's sparsity/compression in the bundle's manifest (in place)."""
    bundle = Bundle.load(bundle_dir)
    source = Path(ckpt) if ckpt is not None else bundle.source_dir
    if source is None:
        raise BundleError(
            f"bundle {bundle_dir} has no source/ checkpoint: pass the checkpoint it came from"
        )
    record = checkpoint_record(source)
    if not record["sparsity"] and not record["compression"]:
        return bundle
    lineage = json.loads(json.dumps(bundle.manifest.get("lineage", {})))
    settings = lineage.setdefault("settings", {})
    settings["compression"] = record["compression"]
    fields = {"lineage": lineage}
    if record["sparsity"]:
        settings["sparsity"] = record["sparsity"]
        fields["sparsity"] = sparsity_marker(record["sparsity"])
    bundle.update(**fields)
    return bundle


def export_compressed(ckpt: str | Path, out: str | Path, force: bool = False) -> Bundle:
    """`vla-edge export` of a pruned/distilled checkpoint, then mark_bundle."""
    from vla_edge.export import ExportConfig, export_checkpoint

    export_checkpoint(ckpt, out, ExportConfig(force=force))
    return mark_bundle(out, ckpt)
