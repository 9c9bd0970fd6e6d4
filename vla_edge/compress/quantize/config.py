"""Quantization recipes as validated dataclasses (the accuracy budget is vla_edge.budget's)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from vla_edge.budget import BUDGET_HELP, Budget
from vla_edge.errors import QuantizationError

__all__ = ["BUDGET_HELP", "Budget", "QuantizeConfig"]

PRECISIONS = ("fp16", "int8", "int8-dynamic", "mixed")
CALIB_METHODS = ("minmax", "entropy", "percentile")
ENCODER_PRECISIONS = ("auto", "fp32", "fp16", "int8-dynamic")
GRANULARITIES = ("layer", "block")


@dataclass
class QuantizeConfig:
    """One quantization recipe. `calib` is a demonstration dataset, a LeRobotDataset v3 folder
    (`lerobot:PATH`), a directory of images with an instructions list, or a .npz file; None
    calibrates (and validates) on random frames.
    A result that misses its budget (`budget`, else `Budget.default`) is not written unless
    `keep_failed`, which writes it marked failed in its manifest (vla_edge.bundle.failure_reasons):
    loading it for inference then needs `allow_failed=True`."""

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
    keep_failed: bool = False
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

    def settings(self, used: dict | None = None) -> dict:
        """The recipe as the lineage records it. `used` ({"calibration_samples",
        "heldout_samples"}) replaces the requested sizes with the numbers of frames actually
        used; the requested ones are kept beside them when fewer were available."""
        calib_size, holdout = self.calib_size, self.holdout
        if used is not None:
            calib_size, holdout = used["calibration_samples"], used["heldout_samples"]
        out = {
            "precision": self.precision,
            "calib": None if self.calib is None else str(self.calib),
            "calib_size": calib_size,
            "holdout": holdout,
            "calib_method": self.calib_method,
            "budget": None if self.budget is None else self.budget.to_dict(),
            "encoder_precision": self.encoder,
            "granularity": self.granularity,
            "sensitivity_samples": self.sensitivity_samples,
            "mixed_base": self.mixed_base if self.precision == "mixed" else None,
            "seed": self.seed,
        }
        if used is not None and "frames" in used:  # a LeRobot dataset's frames, by index
            out["calib_frames"] = used["frames"]
        if (calib_size, holdout) != (self.calib_size, self.holdout):
            out["requested"] = {"calib_size": self.calib_size, "holdout": self.holdout}
        return out


def _choice(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise QuantizationError(f"{name} must be one of {list(allowed)}, got {value!r}")
