"""Parity between a graph and its parent: per-output max abs error, action error in physical
units, and the fraction of identical action bins for `bins` heads. Failing raises ParityError
naming the output, the tolerance and the worst element."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from vla_edge.errors import ParityError
from vla_edge.export.samples import PARITY_SAMPLES
from vla_edge.policy.spec import PolicySpec


@dataclass
class ParityConfig:
    """Tolerances, and what an export compares on. Action tolerance is a fraction of each
    dimension's range (high - low). An export compares PyTorch with ONNX Runtime on `samples`
    observations (at least 32): real frames from `data` (a demonstration set, an image folder
    or a .npz) when given, random ones for the rest."""

    action_atol_fraction: float = 1e-3
    min_identical_bins: float = 0.99
    embedding_atol: float = 1e-3
    samples: int = PARITY_SAMPLES
    data: str | Path | None = None

    def __post_init__(self) -> None:
        if self.samples < PARITY_SAMPLES:
            raise ParityError(f"parity needs at least {PARITY_SAMPLES} samples, got {self.samples}")
        if not 0 < self.action_atol_fraction < 1:
            raise ValueError(
                f"action_atol_fraction must be in (0, 1), got {self.action_atol_fraction}"
            )
        if not 0 <= self.min_identical_bins <= 1:
            raise ValueError(f"min_identical_bins must be in [0, 1], got {self.min_identical_bins}")


@dataclass
class ParityReport:
    reference: str
    candidate: str
    samples: int
    max_abs_error: dict[str, float] = field(default_factory=dict)
    action_error: dict[str, dict[str, float]] = field(default_factory=dict)
    identical_bins: float | None = None
    passed: bool = True
    real_frames: int | None = None  # of `samples`, how many were camera frames (not random)
    source: str | None = None  # where the real frames came from

    def to_dict(self) -> dict:
        return asdict(self)


def bin_indices(actions: np.ndarray, spec: PolicySpec) -> np.ndarray:
    low, high = np.asarray(spec.action.low), np.asarray(spec.action.high)
    frac = (actions - low) / (high - low)
    return np.clip(np.floor(frac * spec.action.bins), 0, spec.action.bins - 1).astype(np.int64)


def action_errors(
    ref: np.ndarray, cand: np.ndarray, spec: PolicySpec
) -> dict[str, dict[str, float]]:
    """Per action dimension: max and mean absolute error in the dimension's own units."""
    err = np.abs(ref - cand).reshape(-1, spec.action.dim)
    return {
        name: {
            "max": float(err[:, i].max()),
            "mean": float(err[:, i].mean()),
            "unit": spec.action.units[i],
        }
        for i, name in enumerate(spec.action.names)
    }


def compare(
    ref: dict[str, np.ndarray],
    cand: dict[str, np.ndarray],
    spec: PolicySpec,
    config: ParityConfig | None = None,
    names: tuple[str, str] = ("torch", "onnxrt"),
    raise_on_fail: bool = True,
) -> ParityReport:
    config = config or ParityConfig()
    report = ParityReport(names[0], names[1], samples=int(ref["actions"].shape[0]))
    for key, r in ref.items():
        if key not in cand:
            raise ParityError(f"{names[1]} has no output {key!r}; it has {sorted(cand)}")
        if r.shape != cand[key].shape:
            raise ParityError(f"output {key!r}: shape {list(cand[key].shape)} != {list(r.shape)}")
        report.max_abs_error[key] = float(np.abs(r.astype(np.float64) - cand[key]).max())
    non_finite = _non_finite(ref, cand, names)
    if raise_on_fail and non_finite:
        raise ParityError(non_finite)
    a_ref, a_cand = ref["actions"], cand["actions"]
    report.action_error = action_errors(a_ref, a_cand, spec)
    if spec.action.representation == "bins":
        with np.errstate(invalid="ignore"):  # NaN: failed above, never counted identical
            same = bin_indices(a_ref, spec) == bin_indices(a_cand, spec)
        report.identical_bins = float(same.mean())
    why = non_finite or _failure(a_ref, a_cand, spec, config, report)
    report.passed = why is None
    if raise_on_fail and not report.passed:
        raise ParityError(why)
    return report


def _non_finite(ref: dict, cand: dict, names: tuple[str, str]) -> str | None:
    """A NaN or inf in any output of either side fails parity (NaN compares as neither above
    nor below a tolerance, and both sides NaN would otherwise count as identical bins)."""
    for key in ref:
        for side, outputs in zip(names, (ref, cand), strict=True):
            arr = np.asarray(outputs[key])
            if np.issubdtype(arr.dtype, np.floating) and not np.isfinite(arr).all():
                bad = ~np.isfinite(arr)
                first = np.argwhere(bad)[0].tolist()
                return (
                    f"output {key!r} of {side} holds NaN or inf in {int(bad.sum())} of "
                    f"{arr.size} values (first at {first}) on the parity samples: the model "
                    "cannot produce actions from them; check its weights and inputs (a NaN "
                    "weight, a log or division of a value out of range)"
                )
    return None


def _failure(a_ref, a_cand, spec, config, report) -> str | None:
    for key, err in report.max_abs_error.items():
        if key != "actions" and err > config.embedding_atol:
            return (
                f"output {key!r} differs from {report.reference} by up to {err:.3g} "
                f"(tolerance {config.embedding_atol:g})"
            )
    if report.identical_bins is not None:
        if report.identical_bins < config.min_identical_bins:
            return (
                f"parity failed: output 'actions': only {report.identical_bins:.1%} of action "
                f"bins of {report.candidate} identical to {report.reference}, tolerance >= "
                f"{config.min_identical_bins:.1%} (if that is acceptable, lower it: export "
                "--min-bins)"
            )
        return None
    rng = np.asarray(spec.action.high) - np.asarray(spec.action.low)
    scaled = np.abs(a_ref - a_cand) / rng
    if scaled.max() <= config.action_atol_fraction:
        return None
    worst = np.unravel_index(int(np.argmax(scaled)), scaled.shape)
    dim = spec.action.names[worst[-1]]
    unit = spec.action.units[worst[-1]]
    unit = "" if unit in ("", "1") else f" {unit}"
    frac, span = config.action_atol_fraction, rng[worst[-1]]
    return (
        f"parity failed: output 'actions' of {report.candidate} differs from {report.reference} "
        f"beyond tolerance: worst element {list(map(int, worst))} (action {dim!r}) is "
        f"{a_cand[worst]:.8g} vs {a_ref[worst]:.8g}{unit}, error "
        f"{np.abs(a_ref - a_cand)[worst]:.3g} > {frac:g} x range {span:g} = {frac * span:.3g}"
        f"{unit} (if an error this size is acceptable, raise the tolerance: export --atol)"
    )


def batched(runner: Any, feeds: dict[str, np.ndarray], batch: int) -> dict[str, np.ndarray]:
    """Run an active runner over `feeds` in chunks of `batch` rows; outputs concatenated."""
    n = len(next(iter(feeds.values())))
    parts = [
        runner.infer(runner.feeds_from({k: v[i : i + batch] for k, v in feeds.items()}))
        for i in range(0, n, batch)
    ]
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def verify_graphs(
    graphs: list[Any],
    onnx_paths: list[Path],
    spec: PolicySpec,
    config: ParityConfig,
    tokenizer: Any,
    record_to: Path | None = None,
    seed: int = 1,
    batch: int = 8,
) -> ParityReport:
    """Run each torch graph module and its ONNX graph (ONNX Runtime CPU) side by side on the
    config's observations, chaining a split layout's instruction embedding, and compare. The
    observations and the ONNX graph's actions on them are written to `record_to` (what
    `vla-edge validate` compares an engine with when nothing else is at hand)."""
    from vla_edge.backends.factory import runner_for
    from vla_edge.export.samples import feeds_of, observations, save_observations

    obs, info = observations(spec, config.samples, config.data, seed)
    feeds = feeds_of(obs, spec, tokenizer)
    ref, cand = {}, {}
    t_feeds, o_feeds = dict(feeds), dict(feeds)
    for graph, path in zip(graphs, onnx_paths, strict=True):
        name = graph.output_names[0]
        with runner_for(graph, backend="torch") as torch_runner:
            ref[name] = batched(torch_runner, t_feeds, batch)[name]
        with runner_for(path) as onnx_runner:
            cand[name] = batched(onnx_runner, o_feeds, batch)[name]
        t_feeds[name], o_feeds[name] = ref[name], cand[name]
    report = compare(ref, cand, spec, config)
    report.real_frames, report.source = info["real_frames"], info["source"]
    if record_to is not None:
        save_observations(record_to, obs, cand["actions"])
    return report
