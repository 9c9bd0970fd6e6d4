"""A LeRobot `pretrained_model/` folder: find it, read its policy type, load it with LeRobot.

`lerobot-train` writes outputs/train/<run>/checkpoints/<step>/pretrained_model/ holding
config.json (with `type`: act, diffusion, smolvla, pi0, pi05, ...), model.safetensors and the
processor pipelines (policy_preprocessor.json, policy_postprocessor.json + their normalizer
safetensors). Only the export environment (Python >= 3.12, lerobot) loads one.
"""

from __future__ import annotations

import contextlib
import json
import sys
from dataclasses import dataclass
from pathlib import Path

from vla_edge.errors import AdapterError, CheckpointError

PREFIX = "lerobot:"
FILES = ("config.json", "model.safetensors", "policy_preprocessor.json")


def strip_prefix(source: str | Path) -> tuple[Path, bool]:
    """'lerobot:PATH' -> (PATH, True); anything else -> (path, False)."""
    text = str(source)
    if text.startswith(PREFIX):
        return Path(text[len(PREFIX) :]).expanduser(), True
    return Path(text), False


def is_lerobot(source: str | Path) -> bool:
    """'lerobot:PATH', or a folder holding a LeRobot pretrained_model (not a vla-edge one)."""
    path, prefixed = strip_prefix(source)
    return prefixed or (path.is_dir() and find_pretrained(path) is not None)


def find_pretrained(path: Path) -> Path | None:
    """The pretrained_model folder at `path`, inside it, or in its last checkpoint."""
    for cand in (path, path / "pretrained_model", path / "checkpoints/last/pretrained_model"):
        if all((cand / f).is_file() for f in FILES) and policy_type(cand):
            return cand
    return None


def policy_type(folder: Path) -> str | None:
    try:
        data = json.loads((folder / "config.json").read_text())
    except (OSError, json.JSONDecodeError):
        return None
    kind = data.get("type")
    return kind if isinstance(kind, str) and "model_type" not in data else None


def resolve(path: Path) -> Path:
    found = find_pretrained(path)
    if found is None:
        missing = [f for f in FILES if not (path / f).is_file()]
        raise CheckpointError(
            f"{path} is not a LeRobot pretrained_model folder (missing {missing}); pass the "
            "folder lerobot-train writes, e.g. outputs/train/RUN/checkpoints/last/pretrained_model"
        )
    return found


@dataclass
class Loaded:
    """A LeRobot policy with its own pre/post-processing pipelines."""

    path: Path
    config: object
    policy: object
    pre: object
    post: object

    def step(self, pipeline: str, cls_name: str):
        """The first step of the pipeline whose class is `cls_name` (None if absent)."""
        steps = getattr(self, pipeline).steps
        return next((s for s in steps if type(s).__name__ == cls_name), None)


def load(folder: Path) -> Loaded:
    from vla_edge.deps import require

    require("lerobot", extra="lerobot", purpose="export a LeRobot policy (Python >= 3.12)")
    from lerobot.configs.policies import PreTrainedConfig
    from lerobot.policies.factory import get_policy_class, make_pre_post_processors

    try:
        with contextlib.redirect_stdout(sys.stderr):  # lerobot prints; keep --json clean
            cfg = PreTrainedConfig.from_pretrained(str(folder))
            cfg.device = "cpu"
            policy = get_policy_class(cfg.type).from_pretrained(str(folder), config=cfg).eval()
            pre, post = make_pre_post_processors(cfg, pretrained_path=str(folder))
    except Exception as exc:  # lerobot and transformers raise many kinds
        raise AdapterError(f"LeRobot could not load {folder}: {type(exc).__name__}: {exc}") from exc
    return Loaded(folder, cfg, policy, pre, post)
