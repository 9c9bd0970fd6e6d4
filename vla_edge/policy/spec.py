"""PolicySpec: the contract between a policy, its bundle, the robot loop and the simulator.

A spec names the cameras (name, height, width), the instruction (max tokens, tokenizer), the
proprioceptive state size, the action space (names, units, limits, chunk length,
representation) and the normalization statistics. It serializes to and from JSON and every
field is validated with a message that says what was expected and what was received.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from vla_edge.errors import SpecError

REPRESENTATIONS = ("bins", "continuous", "flow")
# what an action value means: "delta" (a displacement or velocity per step; 0 = no motion) or
# "absolute" (a target position or setting; repeating the last one = stay)
ACTION_KINDS = ("delta", "absolute")
# the kind assumed when a spec declares none (manifests written before the field existed): a
# wrong "absolute" turns every fault into continued motion at the last commanded velocity, so
# the fault commands of an undeclared space send zero motion; `run` says so and how to override
DEFAULT_ACTION_KIND = "delta"
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


def _check_name(kind: str, name: str) -> None:
    if not isinstance(name, str) or not _NAME.match(name):
        raise SpecError(
            f"{kind} name {name!r} is invalid: expected letters, digits and '_' starting with a "
            "letter (it becomes part of an ONNX input name, e.g. 'image_wrist')"
        )


def _floats(kind: str, values: Any, n: int) -> list[float]:
    try:
        out = [float(v) for v in values]
    except (TypeError, ValueError) as exc:
        raise SpecError(f"{kind} must be a list of {n} numbers, got {values!r}") from exc
    if len(out) != n:
        raise SpecError(f"{kind} must have {n} values (one per dimension), got {len(out)}")
    if not all(math.isfinite(v) for v in out):
        raise SpecError(f"{kind} must be finite numbers, got {out}")
    return out


@dataclass
class CameraSpec:
    name: str
    height: int
    width: int

    def __post_init__(self) -> None:
        _check_name("camera", self.name)
        for dim in ("height", "width"):
            value = getattr(self, dim)
            if not isinstance(value, int) or value < 8:
                raise SpecError(
                    f"camera {self.name!r} {dim} must be an integer >= 8, got {value!r}"
                )

    @property
    def input_name(self) -> str:
        return f"image_{self.name}"


@dataclass
class InstructionSpec:
    """Text instruction. `tokenizer` is "byte" (built in, no files) or "bundle" (files shipped
    in the bundle's tokenizer/ folder, e.g. a WordPiece tokenizer of a local text encoder)."""

    max_tokens: int = 32
    tokenizer: str = "byte"
    suffix: str = ""  # appended to every instruction before tokenizing (LeRobot appends "\n")
    # pi0.5: the binned state written into the prompt every frame (vla_edge.policy.state_prompt)
    state_prompt: dict | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.max_tokens, int) or not 1 <= self.max_tokens <= 4096:
            raise SpecError(f"instruction max_tokens must be 1..4096, got {self.max_tokens!r}")
        if self.tokenizer not in ("byte", "bundle"):
            raise SpecError(
                f"instruction tokenizer must be 'byte' or 'bundle', got {self.tokenizer!r}"
            )


@dataclass
class ActionSpace:
    names: list[str]
    units: list[str]
    low: list[float]
    high: list[float]
    chunk: int = 1
    representation: str = "continuous"
    bins: int = 256
    # actions of each chunk executed before inferring again (LeRobot's n_action_steps);
    # None: the whole chunk. The runtime queues this many (open-loop) unless told otherwise.
    n_action_steps: int | None = None
    # ACT-style temporal ensembling weight exp(-m * i), used by `--chunking ensemble`
    ensemble_coeff: float | None = None
    # "delta" | "absolute" for every dimension, or one per dimension (e.g. end-effector deltas
    # with an absolute gripper); None: not declared, read as DEFAULT_ACTION_KIND
    kind: str | list[str] | None = None

    def __post_init__(self) -> None:
        if not self.names:
            raise SpecError("action space needs at least one dimension in 'names'")
        n = len(self.names)
        for name in self.names:
            _check_name("action", name)
        if len(set(self.names)) != n:
            raise SpecError(f"action names must be unique, got {self.names}")
        if len(self.units) != n:
            raise SpecError(f"action units must have {n} entries (one per name), got {self.units}")
        self.low = _floats("action low", self.low, n)
        self.high = _floats("action high", self.high, n)
        bad = [nm for nm, lo, hi in zip(self.names, self.low, self.high, strict=True) if lo >= hi]
        if bad:
            raise SpecError(f"action low must be < high for every dimension; not so for {bad}")
        if not isinstance(self.chunk, int) or not 1 <= self.chunk <= 1024:
            raise SpecError(f"action chunk must be an integer 1..1024, got {self.chunk!r}")
        if self.representation not in REPRESENTATIONS:
            raise SpecError(
                f"action representation must be one of {REPRESENTATIONS}, "
                f"got {self.representation!r}"
            )
        if not isinstance(self.bins, int) or not 2 <= self.bins <= 65536:
            raise SpecError(f"action bins must be an integer 2..65536, got {self.bins!r}")
        steps = self.n_action_steps
        if steps is not None and (not isinstance(steps, int) or not 1 <= steps <= self.chunk):
            raise SpecError(
                f"action n_action_steps must be an integer 1..{self.chunk} (the chunk), got "
                f"{steps!r}"
            )
        if self.ensemble_coeff is not None and not 0 <= self.ensemble_coeff < 10:
            raise SpecError(f"action ensemble_coeff must be in [0, 10), got {self.ensemble_coeff}")
        self._check_kind()

    def _check_kind(self) -> None:
        kind, n = self.kind, len(self.names)
        if kind is None or (isinstance(kind, str) and kind in ACTION_KINDS):
            return
        ok = isinstance(kind, list) and len(kind) == n and all(k in ACTION_KINDS for k in kind)
        if not ok:
            raise SpecError(
                f"action kind must be one of {ACTION_KINDS} or a list of {n} of them (one per "
                f"dimension {self.names}), got {kind!r}"
            )

    @property
    def kinds(self) -> list[str]:
        """The kind of each dimension (DEFAULT_ACTION_KIND where the spec declares none)."""
        kind = DEFAULT_ACTION_KIND if self.kind is None else self.kind
        return [kind] * len(self.names) if isinstance(kind, str) else list(kind)

    @property
    def delta_mask(self) -> list[bool]:
        """True for each dimension whose value is a delta (0 = no motion)."""
        return [k == "delta" for k in self.kinds]

    @property
    def dim(self) -> int:
        return len(self.names)


@dataclass
class Normalization:
    """Statistics used inside the graph: state is standardized with state_mean/std; continuous
    and flow heads predict standardized actions that are mapped back with action_mean/std."""

    state_mean: list[float] | None = None
    state_std: list[float] | None = None
    action_mean: list[float] | None = None
    action_std: list[float] | None = None

    def check(self, state_dim: int, action_dim: int) -> None:
        for key, n in (("state", state_dim), ("action", action_dim)):
            mean, std = getattr(self, f"{key}_mean"), getattr(self, f"{key}_std")
            if (mean is None) != (std is None):
                raise SpecError(f"normalization needs both {key}_mean and {key}_std, or neither")
            if mean is None:
                continue
            setattr(self, f"{key}_mean", _floats(f"normalization {key}_mean", mean, n))
            std = _floats(f"normalization {key}_std", std, n)
            if min(std) <= 0:
                raise SpecError(f"normalization {key}_std must be > 0, got {std}")
            setattr(self, f"{key}_std", std)


@dataclass
class PolicySpec:
    cameras: list[CameraSpec]
    action: ActionSpace
    state_dim: int = 0
    instruction: InstructionSpec = field(default_factory=InstructionSpec)
    normalization: Normalization = field(default_factory=Normalization)

    def __post_init__(self) -> None:
        if not self.cameras:
            raise SpecError("a policy needs at least one camera in 'cameras'")
        names = [c.name for c in self.cameras]
        if len(set(names)) != len(names):
            raise SpecError(f"camera names must be unique, got {names}")
        if not isinstance(self.state_dim, int) or self.state_dim < 0:
            raise SpecError(f"state_dim must be an integer >= 0, got {self.state_dim!r}")
        self.normalization.check(self.state_dim, self.action.dim)
        if self.instruction.state_prompt is not None:
            if not self.state_dim:
                raise SpecError("instruction.state_prompt writes the state, but state_dim is 0")
            from vla_edge.policy.state_prompt import StatePrompt

            StatePrompt.from_dict(self.instruction.state_prompt, self.state_dim)

    # --- naming -------------------------------------------------------------------------------
    @property
    def camera_names(self) -> list[str]:
        return [c.name for c in self.cameras]

    def camera(self, name: str) -> CameraSpec:
        for cam in self.cameras:
            if cam.name == name:
                return cam
        raise SpecError(f"unknown camera {name!r}: this policy has cameras {self.camera_names}")

    # --- serialization ------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    def save(self, path: str | Path) -> None:
        Path(path).write_text(self.to_json() + "\n")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PolicySpec:
        if not isinstance(data, dict):
            raise SpecError(f"a PolicySpec must be a JSON object, got {type(data).__name__}")
        missing = [k for k in ("cameras", "action") if k not in data]
        if missing:
            raise SpecError(f"PolicySpec is missing {missing}; present keys: {sorted(data)}")
        try:
            return cls(
                cameras=[CameraSpec(**c) for c in data["cameras"]],
                action=ActionSpace(**data["action"]),
                state_dim=data.get("state_dim", 0),
                instruction=InstructionSpec(**data.get("instruction", {})),
                normalization=Normalization(**(data.get("normalization") or {})),
            )
        except TypeError as exc:  # unknown or missing keys in a sub-object
            raise SpecError(f"PolicySpec JSON does not match the expected fields: {exc}") from exc

    @classmethod
    def from_json(cls, text: str) -> PolicySpec:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SpecError(f"PolicySpec is not valid JSON: {exc}") from exc
        return cls.from_dict(data)

    @classmethod
    def load(cls, path: str | Path) -> PolicySpec:
        path = Path(path)
        if not path.is_file():
            raise SpecError(f"no PolicySpec file at {path}")
        return cls.from_json(path.read_text())
