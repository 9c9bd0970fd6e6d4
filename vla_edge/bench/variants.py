"""Which variants a benchmark compares: bundles (and their lineage) x backends x precisions.

A variant is one bundle run by one backend at one precision. The bundles passed are joined by
their parents (manifest lineage parent_path, when that directory still holds the bundle with
the recorded hash), so an int8 bundle is compared with the FP32 bundle it came from. The
reference for action error is the FP32 ONNX Runtime variant of the lineage root.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from vla_edge.errors import BundleError, InputError

BACKENDS = ("onnxrt", "torch", "trt")


@dataclass
class Variant:
    label: str
    bundle: str
    backend: str
    precision: str
    size_bytes: int
    content_hash: str
    providers: list[str] | None = None
    engine_device: str | None = None
    reference: bool = False
    role: str = "given"  # given | lineage

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Plan:
    variants: list[Variant] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    @property
    def reference(self) -> Variant | None:
        return next((v for v in self.variants if v.reference), None)


def load_with_lineage(paths: list[Path]) -> list[tuple[Any, str]]:
    """Bundles passed, then their ancestors reachable through lineage parent_path (deduped)."""
    from vla_edge.bundle import Bundle

    out: list[tuple[Any, str]] = []
    seen: set[str] = set()
    for path in paths:
        bundle, role = Bundle.load(path), "given"
        while bundle is not None and bundle.content_hash not in seen:
            seen.add(bundle.content_hash)
            out.append((bundle, role))
            bundle, role = _parent(bundle), "lineage"
    return out


def _parent(bundle: Any) -> Any | None:
    from vla_edge.bundle import Bundle

    lineage = bundle.manifest.get("lineage") or {}
    parent_path, parent_hash = lineage.get("parent_path"), lineage.get("parent")
    if not parent_path:
        return None
    # a relative parent_path was relative to the working directory of the step that wrote it;
    # try that, then next to the bundle itself
    candidates = [Path(parent_path), Path(bundle.path).parent / Path(parent_path).name]
    found = next((p for p in candidates if (p / "manifest.json").is_file()), None)
    if found is None:
        return None
    try:
        parent = Bundle.load(found)
    except BundleError:
        return None
    return parent if parent.content_hash == parent_hash else None


def _engines(bundle: Any, device: str | None) -> list[dict]:
    engines = bundle.manifest.get("engines", []) or []
    return [e for e in engines if device is None or e.get("device") == device]


def _expand(bundle: Any, role: str, backend: str, ctx: dict, plan: Plan) -> list[Variant]:
    name = bundle.name
    common = dict(bundle=str(bundle.path), content_hash=bundle.content_hash, role=role)
    if backend == "onnxrt":
        size = bundle.size_bytes()
        label = f"{name} onnxrt {bundle.precision}"
        return [
            Variant(
                label,
                backend=backend,
                precision=bundle.precision,
                size_bytes=size,
                providers=ctx["providers"],
                **common,
            )
        ]
    if backend == "torch":
        if bundle.source_dir is None or bundle.precision != "fp32":
            plan.skipped.append(
                f"{name} torch: needs an fp32 bundle carrying its source checkpoint"
            )
            return []
        size = sum(f.stat().st_size for f in bundle.source_dir.rglob("*") if f.is_file())
        return [
            Variant(
                f"{name} torch fp32", backend=backend, precision="fp32", size_bytes=size, **common
            )
        ]
    engines = _engines(bundle, ctx["engine_device"])
    if not engines:
        plan.skipped.append(
            f"{name} trt: no engines for {ctx['engine_device'] or 'any device'}; build them "
            f"with `vla-edge build {bundle.path} --device <device>`"
        )
        return []
    size = sum((bundle.path / e["engine"]).stat().st_size for e in engines)
    precision = engines[0].get("precision", "fp16")
    return [
        Variant(
            f"{name} trt {precision}",
            backend=backend,
            precision=precision,
            size_bytes=size,
            engine_device=engines[0]["device"],
            **common,
        )
    ]


def plan_variants(
    paths: list[Path],
    backends: list[str],
    precisions: list[str] | None = None,
    providers: list[str] | None = None,
    engine_device: str | None = None,
) -> Plan:
    """Variants to time, in order; the reference (FP32 ONNX Runtime of the root) is kept even
    when `precisions` filters it out, because action errors are measured against it."""
    unknown = [b for b in backends if b not in BACKENDS]
    if unknown:
        raise InputError(f"unknown backend(s) {unknown}; choose from {list(BACKENDS)}")
    plan = Plan()
    ctx = {"providers": providers, "engine_device": engine_device}
    bundles = load_with_lineage(paths)
    for bundle, role in bundles:
        for backend in backends:
            plan.variants += _expand(bundle, role, backend, ctx, plan)
    _mark_reference(plan, bundles, ctx)
    if precisions:
        dropped = [v for v in plan.variants if v.precision not in precisions and not v.reference]
        plan.skipped += [f"{v.label}: precision not in {precisions}" for v in dropped]
        plan.variants = [v for v in plan.variants if v not in dropped]
    if not plan.variants:
        raise InputError("nothing to benchmark: " + "; ".join(plan.skipped))
    return plan


def _mark_reference(plan: Plan, bundles: list[tuple[Any, str]], ctx: dict) -> None:
    fp32 = [v for v in plan.variants if v.precision == "fp32" and v.backend == "onnxrt"]
    if not fp32:
        root = next((b for b, _ in reversed(bundles) if b.precision == "fp32"), None)
        if root is None:
            return
        ref = _expand(root, "lineage", "onnxrt", ctx, plan)[0]
        plan.variants.insert(0, ref)
        fp32 = [ref]
    root_hashes = [b.content_hash for b, _ in reversed(bundles)]
    fp32.sort(key=lambda v: root_hashes.index(v.content_hash))
    fp32[0].reference = True
