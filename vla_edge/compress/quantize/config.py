"""Quantization recipes as validated dataclasses, and the accuracy budget they are held to."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from vla_edge.errors import QuantizationError
from vla_edge.policy.spec import PolicySpec

PRECISIONS = ("fp16", "int8", "int8-dynamic", "mixed")
CALIB_METHODS = ("minmax", "entropy", "percentile")
ENCODER_PRECISIONS = ("auto", "fp32", "fp16", "int8-dynamic")
GRANULARITIES = ("layer", "block")


@dataclass
class Budget:
    """How far a quantized policy may drift from its parent on held-out inputs.

    `identical_bins`: least fraction of action bins equal to the parent's (bins heads).
    `error`: per action dimension, the largest allowed p99 absolute error in that dimension's own
    units (e.g. {"dx": 0.002} metres). `range_fraction`: the same for every dimension, as a
    fraction of its range (high - low). Unset terms are not checked.
    """

    identical_bins: float | None = None
    error: dict[str, float] = field(default_factory=dict)
    range_fraction: float | None = None

    def __post_init__(self) -> None:
        if self.identical_bins is not None and not 0 <= self.identical_bins <= 1:
            raise QuantizationError(
                f"budget bins must be a fraction in [0, 1], got {self.identical_bins}"
            )
        if self.range_fraction is not None and not 0 < self.range_fraction < 1:
            raise QuantizationError(
                f"budget range must be a fraction of the action range in (0, 1), got "
                f"{self.range_fraction}"
            )
        for name, value in self.error.items():
            if not value > 0:
                raise QuantizationError(f"budget {name}={value}: an error bound must be > 0")

    @classmethod
    def parse(cls, text: str, spec: PolicySpec) -> Budget:
        """'bins=0.99,dx=0.002,range=0.01' -> Budget (dimension names from the spec)."""
        out = cls()
        for term in filter(None, (t.strip() for t in text.split(","))):
            key, sep, value = term.partition("=")
            if not sep:
                raise QuantizationError(f"budget term {term!r} is not key=value; {BUDGET_HELP}")
            out._set(key.strip(), _number(term, value), spec)
        out.__post_init__()
        if out.is_empty:
            raise QuantizationError(f"budget {text!r} sets nothing; {BUDGET_HELP}")
        return out

    def _set(self, key: str, value: float, spec: PolicySpec) -> None:
        if key == "bins":
            if spec.action.representation != "bins":
                raise QuantizationError(
                    f"budget bins= applies to bins heads; this policy's head is "
                    f"{spec.action.representation!r}: bound the error instead (e.g. range=0.01)"
                )
            self.identical_bins = value
        elif key == "range":
            self.range_fraction = value
        elif key in spec.action.names:
            self.error[key] = value
        else:
            raise QuantizationError(
                f"unknown budget term {key!r}: use bins, range, or an action dimension "
                f"{spec.action.names}"
            )

    @classmethod
    def default(cls, spec: PolicySpec) -> Budget:
        if spec.action.representation == "bins":
            return cls(identical_bins=0.99)
        return cls(range_fraction=0.01)

    @property
    def is_empty(self) -> bool:
        return self.identical_bins is None and not self.error and self.range_fraction is None

    def to_dict(self) -> dict:
        return {
            "identical_bins": self.identical_bins,
            "p99_error": dict(self.error),
            "range_fraction": self.range_fraction,
        }


BUDGET_HELP = (
    "write it as comma-separated key=value terms: bins=<fraction of identical action bins>, "
    "<action dim>=<p99 abs error in its units>, range=<p99 abs error as a fraction of the range>"
)


def _number(term: str, value: str) -> float:
    try:
        return float(value)
    except ValueError:
        raise QuantizationError(f"budget term {term!r}: {value!r} is not a number") from None


@dataclass
class QuantizeConfig:
    """One quantization recipe. `calib` is a demonstration dataset, a directory of images with an
    instructions list, or a .npz file; None calibrates (and validates) on random frames."""

    precision: str = "int8"
    calib: str | Path | None = None
    calib_size: int = 128
    holdout: int = 64
    calib_method: str = "minmax"
    budget: Budget | None = None
    encoder_precision: str = "auto"
    granularity: str = "layer"
    mixed_base: str = "int8"
    eval_suite: str | None = None
    eval_episodes: int = 20
    strict: bool = False
    sensitivity: bool = False
    sensitivity_samples: int = 32
    seed: int = 0
    name: str | None = None
    force: bool = False

    def __post_init__(self) -> None:
        _choice("precision", self.precision, PRECISIONS)
        _choice("calib_method", self.calib_method, CALIB_METHODS)
        _choice("encoder_precision", self.encoder_precision, ENCODER_PRECISIONS)
        _choice("granularity", self.granularity, GRANULARITIES)
        _choice("mixed_base", self.mixed_base, ("int8", "int8-dynamic"))
        if self.calib_size < 1:
            raise QuantizationError(f"calib_size must be >= 1 sample, got {self.calib_size}")
        if self.holdout < 1:
            raise QuantizationError(f"holdout must be >= 1 sample, got {self.holdout}")
        if self.sensitivity_samples < 1:
            raise QuantizationError(
                f"sensitivity_samples must be >= 1, got {self.sensitivity_samples}"
            )
        if self.eval_episodes < 1:
            raise QuantizationError(f"eval_episodes must be >= 1, got {self.eval_episodes}")

    @property
    def encoder(self) -> str:
        """Precision of the instruction encoder: it runs once per instruction, not per frame, so
        INT8 recipes keep it FP32 unless asked (its error would reach every frame)."""
        if self.encoder_precision != "auto":
            return self.encoder_precision
        return "fp16" if self.precision == "fp16" else "fp32"

    @property
    def base(self) -> str:
        """The all-quantized precision a run starts from."""
        return self.mixed_base if self.precision == "mixed" else self.precision

    def settings(self) -> dict:
        return {
            "precision": self.precision,
            "calib": None if self.calib is None else str(self.calib),
            "calib_size": self.calib_size,
            "holdout": self.holdout,
            "calib_method": self.calib_method,
            "budget": None if self.budget is None else self.budget.to_dict(),
            "encoder_precision": self.encoder,
            "granularity": self.granularity,
            "sensitivity_samples": self.sensitivity_samples,
            "mixed_base": self.mixed_base if self.precision == "mixed" else None,
            "seed": self.seed,
        }


def _choice(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise QuantizationError(f"{name} must be one of {list(allowed)}, got {value!r}")
