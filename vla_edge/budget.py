"""Is a derived policy still its parent? One judge for every step that changes the numbers.

`judge(reference, candidate, spec, budget=None) -> Verdict` compares the actions of a candidate
(a quantized bundle, a TensorRT engine, ...) with the parent's actions on the same held-out
observations. Both are arrays in physical units whose last axis is the action dimension
(`[N, chunk, dim]` or `[N, dim]`). The verdict says whether the budget holds and, if not, why,
in sentences that name the dimension, the measured value and the limit.

The default budget (`Budget.default(spec)`) is relative to the parent's own behaviour: per action
dimension, the p99 absolute error may be at most `DEFAULT_SPREAD` times that dimension's standard
deviation over the held-out observations (the policy's own variation across what it sees), and for
a bins head at least `DEFAULT_BINS` of the action bins must be identical to the parent's. A
budget relative to the action range cannot see an error several times larger than that variation
when the policy only uses a small part of its range; this one can. A candidate whose errors are
of the size of the spread is no better than a policy that ignores its observations.

The thresholds were chosen by measurement on the shipped policies mt10-bins, mt10-continuous and
mt10-vision-bins (128 calibration / 512 held-out demonstration frames each;
`benchmarks/budget_calibrate.py`, `benchmarks/results/budget_calibrate.md`): FP16, INT8 and
INT8-dynamic stay at or below 1.48x the std (INT8 on the vision policy, whose task success on the
same 50 mt10-vision episodes is 80% against FP32's 78%) with at least 82% identical bins; ONNX
Runtime's quantize_static defaults, its quantize_dynamic on the vision policy and an
observation-blind policy (the parent's actions for other frames) reach 3.58x or more with at most
55% identical bins. 2x and 70% sit between the two groups.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from vla_edge.errors import QuantizationError
from vla_edge.policy.spec import PolicySpec

DEFAULT_SPREAD = 2.0  # p99 |error| per dimension <= this x the parent's std on held-out frames
DEFAULT_BINS = 0.7  # bins heads: at least this fraction of action bins identical to the parent
STD_FLOOR = 1e-3  # a dimension's spread counts as at least this fraction of its range

BUDGET_HELP = (
    "write it as comma-separated key=value terms: spread=<p99 abs error as a multiple of the "
    "parent's std on held-out frames>, bins=<fraction of identical action bins>, <action "
    "dim>=<p99 abs error in its units>, range=<p99 abs error as a fraction of the range>; "
    "e.g. --budget spread=0.5,bins=0.95"
)


@dataclass
class Budget:
    """How far a derived policy may drift from its parent on held-out inputs.

    `spread`: per action dimension, the largest p99 absolute error as a multiple of the parent's
    standard deviation in that dimension over the held-out observations. `identical_bins`: least
    fraction of action bins equal to the parent's (bins heads). `error`: per dimension, the
    largest p99 absolute error in its own units (e.g. {"dx": 0.002} metres). `range_fraction`:
    the same for every dimension, as a fraction of its range (high - low). Unset terms are not
    checked; a dimension with several limits is held to the tightest.
    """

    identical_bins: float | None = None
    error: dict[str, float] = field(default_factory=dict)
    range_fraction: float | None = None
    spread: float | None = None

    def __post_init__(self) -> None:
        b = self.identical_bins
        if b is not None and not (math.isfinite(b) and 0 <= b <= 1):
            raise QuantizationError(f"budget bins must be a fraction in [0, 1], got {b}")
        r = self.range_fraction
        if r is not None and not (math.isfinite(r) and 0 < r < 1):
            raise QuantizationError(
                f"budget range must be a fraction of the action range in (0, 1), got {r}"
            )
        s = self.spread
        if s is not None and not (math.isfinite(s) and s > 0):
            raise QuantizationError(
                f"budget spread must be a positive multiple of the parent's std, got {s}"
            )
        for name, value in self.error.items():
            if not (math.isfinite(value) and value > 0):
                raise QuantizationError(
                    f"budget {name}={value}: an error bound must be a finite number > 0"
                )

    @classmethod
    def parse(cls, text: str, spec: PolicySpec) -> Budget:
        """'spread=0.5,bins=0.99,dx=0.002,range=0.01' -> Budget (dimension names from the spec).
        An empty or unparsable text is a QuantizationError that shows the syntax."""
        if text is None or not text.strip():
            raise QuantizationError(f"budget {text!r} is empty; {BUDGET_HELP}")
        out, seen = cls(), set()
        for raw in text.split(","):
            term = raw.strip()
            if not term:
                raise QuantizationError(f"budget {text!r} has an empty term; {BUDGET_HELP}")
            key, sep, value = term.partition("=")
            key = key.strip()
            if not sep or not key:
                raise QuantizationError(f"budget term {term!r} is not key=value; {BUDGET_HELP}")
            if key in seen:
                raise QuantizationError(f"budget {text!r} sets {key!r} twice; give it once")
            seen.add(key)
            out._set(key, _number(term, value), spec)
        out.__post_init__()
        return out

    def _set(self, key: str, value: float, spec: PolicySpec) -> None:
        if key == "bins":
            if spec.action.representation != "bins":
                raise QuantizationError(
                    f"budget bins= applies to bins heads; this policy's head is "
                    f"{spec.action.representation!r}: bound the error instead (e.g. spread=0.5)"
                )
            self.identical_bins = value
        elif key == "range":
            self.range_fraction = value
        elif key == "spread":
            self.spread = value
        elif key in spec.action.names:
            self.error[key] = value
        else:
            raise QuantizationError(
                f"unknown budget term {key!r}: use spread, bins, range, or an action dimension "
                f"{spec.action.names}; {BUDGET_HELP}"
            )

    @classmethod
    def default(cls, spec: PolicySpec) -> Budget:
        bins = DEFAULT_BINS if spec.action.representation == "bins" else None
        return cls(identical_bins=bins, spread=DEFAULT_SPREAD)

    @classmethod
    def from_dict(cls, d: dict) -> Budget:
        """The inverse of `to_dict` (a budget recorded in a manifest)."""
        return cls(
            identical_bins=d.get("identical_bins"),
            error=dict(d.get("p99_error") or {}),
            range_fraction=d.get("range_fraction"),
            spread=d.get("spread"),
        )

    @property
    def is_empty(self) -> bool:
        return (
            self.identical_bins is None
            and not self.error
            and self.range_fraction is None
            and self.spread is None
        )

    def to_dict(self) -> dict:
        return {
            "identical_bins": self.identical_bins,
            "p99_error": dict(self.error),
            "range_fraction": self.range_fraction,
            "spread": self.spread,
        }

    def describe(self) -> str:
        """'spread<=2,bins>=0.7': the terms, for messages."""
        terms = []
        if self.spread is not None:
            terms.append(f"spread<={self.spread:g}")
        if self.identical_bins is not None:
            terms.append(f"bins>={self.identical_bins:g}")
        terms += [f"{k}<={v:g}" for k, v in self.error.items()]
        if self.range_fraction is not None:
            terms.append(f"range<={self.range_fraction:g}")
        return ",".join(terms)


def _number(term: str, value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise QuantizationError(
            f"budget term {term!r}: {value.strip()!r} is not a number; {BUDGET_HELP}"
        ) from None
    if not math.isfinite(number):
        raise QuantizationError(f"budget term {term!r}: the bound must be a finite number")
    return number


@dataclass
class Verdict:
    """What `judge` found. `reasons` is empty when the budget holds. `dims`: per action
    dimension, p99/max absolute error (its units), the parent's std, p99/std and the limit that
    applied (its units, None when unbounded)."""

    passed: bool
    reasons: list[str]
    samples: int
    identical_bins: float | None
    dims: dict[str, dict]
    budget: dict

    def to_dict(self) -> dict:
        return {
            "passed": self.passed,
            "reasons": list(self.reasons),
            "samples": self.samples,
            "identical_bins": self.identical_bins,
            "dims": self.dims,
            "budget": self.budget,
        }


def judge(
    reference: np.ndarray,
    candidate: np.ndarray,
    spec: PolicySpec,
    budget: Budget | None = None,
) -> Verdict:
    """Judge `candidate` actions against the parent's `reference` actions (same observations,
    physical units, last axis the action dimension) under `budget` (default:
    `Budget.default(spec)`). Non-finite candidate actions always fail."""
    budget = budget or Budget.default(spec)
    ref, cand = _pair(reference, candidate, spec)
    a = spec.action
    reasons: list[str] = []
    finite = np.isfinite(cand)
    if not finite.all():
        reasons.append(
            f"{int((~finite).sum())} of {cand.size} action values are NaN or inf "
            f"(on {int((~finite.all(axis=1)).sum())} of {len(cand)} action steps)"
        )
    err = np.abs(np.where(finite, cand, np.inf) - ref)
    rng = np.subtract(a.high, a.low).astype(np.float64)
    std = np.maximum(ref.std(axis=0), STD_FLOOR * rng)
    dims = {}
    for i, name in enumerate(a.names):
        p99 = float(np.percentile(err[:, i], 99)) if finite.all() else math.inf
        limit, why = _limit(budget, name, float(rng[i]), float(std[i]))
        dims[name] = {
            "unit": a.units[i],
            "p99": p99,
            "max": float(err[:, i].max()) if len(err) else 0.0,
            "parent_std": float(std[i]),
            "p99_over_std": p99 / float(std[i]),
            "limit": limit,
        }
        if limit is not None and finite.all() and p99 > limit:
            reasons.append(
                f"{name} p99 error {p99:.3g} {a.units[i]} > {limit:.3g} ({why}; "
                f"{p99 / std[i]:.2f}x the parent's std {std[i]:.3g})"
            )
    bins = _identical_bins(ref, cand, spec) if finite.all() else None
    if budget.identical_bins is not None and bins is not None and bins < budget.identical_bins:
        reasons.append(f"identical bins {bins:.2%} < {budget.identical_bins:.2%}")
    return Verdict(not reasons, reasons, len(reference), bins, dims, budget.to_dict())


def _pair(reference, candidate, spec: PolicySpec) -> tuple[np.ndarray, np.ndarray]:
    ref = np.asarray(reference, np.float64)
    cand = np.asarray(candidate, np.float64)
    dim = spec.action.dim
    if ref.shape != cand.shape or ref.ndim < 2 or ref.shape[-1] != dim or ref.size == 0:
        raise QuantizationError(
            f"judge needs reference and candidate actions of one shape [N, ..., {dim}] "
            f"(the policy's {dim} action dimensions); got {list(ref.shape)} and "
            f"{list(cand.shape)}"
        )
    if not np.isfinite(ref).all():
        raise QuantizationError(
            "the parent's reference actions contain NaN or inf: the parent itself is broken; "
            "re-export it before judging anything derived from it"
        )
    return ref.reshape(-1, dim), cand.reshape(-1, dim)


def _limit(budget: Budget, name: str, rng: float, std: float) -> tuple[float | None, str]:
    limits = []
    if name in budget.error:
        limits.append((budget.error[name], f"{name}={budget.error[name]:g}"))
    if budget.range_fraction is not None:
        limits.append((budget.range_fraction * rng, f"{budget.range_fraction:g} x range"))
    if budget.spread is not None:
        limits.append((budget.spread * std, f"{budget.spread:g} x the parent's std"))
    if not limits:
        return None, ""
    return min(limits)


def _identical_bins(ref: np.ndarray, cand: np.ndarray, spec: PolicySpec) -> float | None:
    if spec.action.representation != "bins":
        return None
    from vla_edge.export.parity import bin_indices

    return float((bin_indices(ref, spec) == bin_indices(cand, spec)).mean())
