"""Parity between a graph and its parent: per-output max abs error, action error in physical
units, and the fraction of identical action bins for `bins` heads. Failing raises ParityError
naming the output, the tolerance and the worst element."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from vla_edge.errors import ParityError
from vla_edge.policy.spec import PolicySpec


@dataclass
class ParityConfig:
    """Tolerances. Action tolerance is a fraction of each dimension's range (high - low)."""

    action_atol_fraction: float = 1e-3
    min_identical_bins: float = 0.99
    embedding_atol: float = 1e-3

    def __post_init__(self) -> None:
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
    a_ref, a_cand = ref["actions"], cand["actions"]
    report.action_error = action_errors(a_ref, a_cand, spec)
    if spec.action.representation == "bins":
        report.identical_bins = float(
            (bin_indices(a_ref, spec) == bin_indices(a_cand, spec)).mean()
        )
    report.passed = _failure(a_ref, a_cand, spec, config, report) is None
    if raise_on_fail and not report.passed:
        raise ParityError(_failure(a_ref, a_cand, spec, config, report))
    return report


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
                f"output 'actions': only {report.identical_bins:.1%} of action bins identical to "
                f"{report.reference}, tolerance >= {config.min_identical_bins:.1%}"
            )
        return None
    rng = np.asarray(spec.action.high) - np.asarray(spec.action.low)
    scaled = np.abs(a_ref - a_cand) / rng
    if scaled.max() <= config.action_atol_fraction:
        return None
    worst = np.unravel_index(int(np.argmax(scaled)), scaled.shape)
    dim = spec.action.names[worst[-1]]
    return (
        f"output 'actions' differs from {report.reference} beyond tolerance: worst element "
        f"{list(map(int, worst))} (action {dim!r}) is {a_cand[worst]:.6g} vs {a_ref[worst]:.6g} "
        f"{spec.action.units[worst[-1]]}, error {np.abs(a_ref - a_cand)[worst]:.3g} > "
        f"{config.action_atol_fraction:g} x range ({rng[worst[-1]]:g})"
    )
