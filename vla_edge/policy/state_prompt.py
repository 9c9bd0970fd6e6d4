"""pi0.5's prompt: the robot state, normalized and binned, written into the instruction text
every frame ("Task: {task}, State: {bins};\\nAction: "), as LeRobot's
Pi05PrepareStateTokenizerProcessorStep and openpi's tokenizer do. Torch-free (the runtime).

A spec's `instruction.state_prompt` holds the template, the number of bins over [-1, 1] and
the state normalization as elementwise float32 arrays: norm = mul * (state - sub) / div + add
(LeRobot's MEAN_STD, MIN_MAX and QUANTILES modes in their own order of operations). Since the
prompt changes with the state, a cache of the prefix (the text part of the graph) cannot be
reused across frames for such a policy."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vla_edge.errors import InputError, SpecError

KEYS = ("template", "bins", "mul", "sub", "div", "add")


@dataclass
class StatePrompt:
    template: str
    bins: int
    mul: np.ndarray
    sub: np.ndarray
    div: np.ndarray
    add: np.ndarray

    @classmethod
    def from_dict(cls, data: dict, state_dim: int) -> StatePrompt:
        if not isinstance(data, dict) or sorted(data) != sorted(KEYS):
            got = sorted(data) if isinstance(data, dict) else type(data).__name__
            raise SpecError(f"instruction.state_prompt needs keys {list(KEYS)}, got {got}")
        if "{task}" not in data["template"] or "{state}" not in data["template"]:
            raise SpecError(
                "instruction.state_prompt template must contain {task} and {state}, got "
                f"{data['template']!r}"
            )
        if not isinstance(data["bins"], int) or data["bins"] < 2:
            raise SpecError(
                f"instruction.state_prompt bins must be an integer >= 2: {data['bins']}"
            )
        arrays = {}
        for key in ("mul", "sub", "div", "add"):
            arr = np.asarray(data[key], dtype=np.float32)
            if arr.shape != (state_dim,):
                raise SpecError(
                    f"instruction.state_prompt {key} must have state_dim={state_dim} values, "
                    f"got shape {arr.shape}"
                )
            arrays[key] = arr
        return cls(data["template"], data["bins"], **arrays)

    def normalize(self, state: np.ndarray) -> np.ndarray:
        state = np.asarray(state, dtype=np.float32)
        return self.mul * (state - self.sub) / self.div + self.add

    def discretize(self, state: np.ndarray) -> np.ndarray:
        """[B, D] raw state -> [B, D] bin indices (-1 below the range, as np.digitize gives)."""
        edges = np.linspace(-1, 1, self.bins + 1)[:-1]
        return np.digitize(self.normalize(state), bins=edges) - 1

    def render(self, texts: list[str] | tuple[str, ...], state: np.ndarray) -> list[str]:
        """One prompt per batch row: the task cleaned as LeRobot does (strip, '_' and newlines
        to spaces), the state's bins space-separated."""
        state = np.asarray(state)
        if state.ndim != 2 or state.shape[0] != len(texts):
            raise InputError(
                f"this policy writes the state into its prompt: need one state row per "
                f"instruction, got {len(texts)} instructions and state of shape {state.shape}"
            )
        out = []
        for text, row in zip(texts, self.discretize(state), strict=True):
            task = text.strip().replace("_", " ").replace("\n", " ")
            bins = " ".join(str(int(b)) for b in row)
            out.append(self.template.replace("{task}", task).replace("{state}", bins))
        return out
