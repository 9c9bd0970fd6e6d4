"""Graph modules: positional-tensor wrappers whose inputs follow the bundle's graph conventions.

- image_<camera> uint8 [B, H, W, 3] ... , input_ids int64 [B, L], attention_mask int64 [B, L],
  instruction_embedding float32 [B, L, D], state float32 [B, S]  ->  actions float32 [B, chunk, A]
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass

import torch
from torch import nn

from vla_edge.errors import ExportError
from vla_edge.policy.spec import PolicySpec


@dataclass
class GraphSpec:
    """What one ONNX graph takes and gives."""

    role: str
    module: nn.Module
    input_names: list[str]
    output_names: list[str]


def image_names(spec: PolicySpec) -> list[str]:
    return [c.input_name for c in spec.cameras]


def _split(spec: PolicySpec, args: tuple[torch.Tensor, ...]) -> tuple:
    """Positional graph inputs -> (images by camera, text tensor, attention mask, state|None)."""
    n = len(spec.cameras)
    images, rest = dict(zip(spec.camera_names, args[:n], strict=True)), args[n:]
    return images, rest[0], rest[1], (rest[2] if spec.state_dim else None)


class InstructionEncoderGraph(nn.Module):
    def __init__(self, model) -> None:
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.model.encode_instruction(input_ids, attention_mask)


class PolicyGraph(nn.Module):
    """Per-frame graph of a reference model, taking the instruction embedding."""

    def __init__(self, model) -> None:
        super().__init__()
        self.model, self.spec = model, model.policy_spec

    def forward(self, *args: torch.Tensor) -> torch.Tensor:
        return self.model.act(*_split(self.spec, args))


class MonolithicGraph(nn.Module):
    def __init__(self, model) -> None:
        super().__init__()
        self.model, self.spec = model, model.policy_spec

    def forward(self, *args: torch.Tensor) -> torch.Tensor:
        return self.model(*_split(self.spec, args))


class GenericGraph(nn.Module):
    """Any nn.Module whose forward takes the spec's inputs by name (image_<camera>, input_ids,
    attention_mask, state; any it does not declare are not passed) and returns actions
    [B, chunk, A] or [B, A] in physical units. The output is clamped to the spec's limits.

    `embedding=True`: the per-frame graph of a split export, taking `instruction_embedding`
    instead of `input_ids` (see vla_edge.export.generic). Modules the forward reaches only
    through closures are registered here, so that their weights are the graph's own."""

    def __init__(
        self, module: nn.Module, spec: PolicySpec, embedding: bool = False, passes_ids: bool = False
    ) -> None:
        from vla_edge.export.copying import held_modules

        super().__init__()
        self.module, self.spec = module, spec
        self.held = nn.ModuleList(held_modules(module))
        params = inspect.signature(module.forward).parameters
        self.takes_kwargs = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
        self.params = set(params)
        names = generic_input_names(spec, embedding)
        always = {"instruction_embedding"} if passes_ids else set()
        declared = getattr(module, "graph_inputs", None)  # a module may list what it uses
        if declared is not None:
            self.params = set(declared)
            self.takes_kwargs = False
        self.accepted = [n for n in names if n in always or self._takes(n)]
        if not any(n.startswith("image_") for n in self.accepted):
            raise ExportError(
                f"{type(module).__name__}.forward takes none of the camera inputs "
                f"{image_names(spec)}; its parameters are {list(params)}. Name the forward's "
                "arguments after the spec's graph inputs (image_<camera>, input_ids, "
                "attention_mask, state)"
            )
        self.register_buffer("low", torch.tensor(spec.action.low, dtype=torch.float32))
        self.register_buffer("high", torch.tensor(spec.action.high, dtype=torch.float32))

    def _takes(self, name: str) -> bool:
        return self.takes_kwargs or name in self.params

    def _declared(self, feeds: dict) -> dict:
        return {k: v for k, v in feeds.items() if self._takes(k)}

    def forward(self, *args: torch.Tensor) -> torch.Tensor:
        return self.finish(self.module(**dict(zip(self.accepted, args, strict=True))))

    def finish(self, out) -> torch.Tensor:
        if isinstance(out, (tuple, list)):
            out = out[0]
        if out.dim() == 2:
            out = out[:, None, :]
        return torch.minimum(torch.maximum(out.to(torch.float32), self.low), self.high)


def generic_input_names(spec: PolicySpec, embedding: bool = False) -> list[str]:
    text = "instruction_embedding" if embedding else "input_ids"
    names = [*image_names(spec), text, "attention_mask"]
    return names + (["state"] if spec.state_dim else [])


def reference_graphs(model, monolithic: bool) -> list[GraphSpec]:
    spec = model.policy_spec
    state = ["state"] if spec.state_dim else []
    if monolithic:
        names = [*image_names(spec), "input_ids", "attention_mask", *state]
        return [GraphSpec("monolithic", MonolithicGraph(model), names, ["actions"])]
    return [
        GraphSpec(
            "instruction_encoder",
            InstructionEncoderGraph(model),
            ["input_ids", "attention_mask"],
            ["instruction_embedding"],
        ),
        GraphSpec(
            "policy",
            PolicyGraph(model),
            [*image_names(spec), "instruction_embedding", "attention_mask", *state],
            ["actions"],
        ),
    ]
