"""Graphs of the generic entry: any nn.Module + PolicySpec, as one graph or with its
instruction encoder split off (so the per-frame graph takes `instruction_embedding` and the
runtime encodes the instruction only when it changes).

The user names the encoder in one of two ways:
- a submodule (attribute path, e.g. "text_encoder") that the module's forward calls as
  `sub(input_ids, attention_mask)`; in the per-frame graph it is replaced by a slot that returns
  the embedding fed to the graph, in the structure the submodule returned (a tensor, a tuple or
  a transformers ModelOutput whose first item is the embedding);
- a method (e.g. "encode_instruction") taking (input_ids, attention_mask); the module's forward
  then takes `instruction_embedding` by that name.

Parity of a split export is judged against the caller's unsplit module: the reference chain runs
the original module end to end on the same token ids.
"""

from __future__ import annotations

import inspect

import torch
from torch import nn

from vla_edge.errors import ExportError
from vla_edge.export.graphs import GenericGraph, GraphSpec
from vla_edge.policy.spec import PolicySpec

TEXT = ("input_ids", "attention_mask")


def generic_graphs(module, clone, spec: PolicySpec, encoder: str | None) -> list[tuple]:
    """(reference, to_trace) GraphSpec pairs; `clone` is the copy that gets traced."""
    if encoder is None:
        ref, cand = GenericGraph(module, spec), GenericGraph(clone, spec)
        return [(_spec("monolithic", ref), _spec("monolithic", cand))]
    if "input_ids" not in GenericGraph(module, spec).accepted:
        raise ExportError(
            f"instruction_encoder={encoder!r} was given but {type(module).__name__}.forward "
            "takes no input_ids: there is no instruction to encode"
        )
    kind = _encoder_kind(module, encoder)
    box: dict = {}
    ref_enc = _Encoder(module, encoder, kind, box)
    cand_enc = _Encoder(clone, encoder, kind)
    if kind == "submodule":
        cand_pol = _frame_graph_with_slot(clone, encoder, spec)
    else:
        cand_pol = GenericGraph(clone, spec, embedding=True)
    pol_in = cand_pol.accepted
    ref_pol = _UnsplitReference(GenericGraph(module, spec), box, pol_in)
    enc_io = (list(TEXT), ["instruction_embedding"])
    return [
        (
            GraphSpec("instruction_encoder", ref_enc, *enc_io),
            GraphSpec("instruction_encoder", cand_enc, *enc_io),
        ),
        (
            GraphSpec("policy", ref_pol, pol_in, ["actions"]),
            GraphSpec("policy", cand_pol, pol_in, ["actions"]),
        ),
    ]


def _spec(role: str, graph: GenericGraph) -> GraphSpec:
    return GraphSpec(role, graph, graph.accepted, ["actions"])


def _encoder_kind(module, name: str) -> str:
    try:
        target = module.get_submodule(name)
        return "submodule" if target is not module else "method"
    except AttributeError:
        pass
    if callable(getattr(module, name, None)):
        params = inspect.signature(type(module).forward).parameters
        if "instruction_embedding" not in params:
            raise ExportError(
                f"instruction_encoder={name!r} names a method, so "
                f"{type(module).__name__}.forward must take `instruction_embedding`; its "
                f"parameters are {list(params)[1:]}. Or name the encoder submodule instead"
            )
        return "method"
    subs = [n for n, _ in module.named_children()]
    raise ExportError(
        f"instruction_encoder={name!r} is neither a submodule nor a method of "
        f"{type(module).__name__}; its submodules are {subs}"
    )


class _Encoder(nn.Module):
    """input_ids, attention_mask -> instruction_embedding [B, L, D] (first item of the output)."""

    def __init__(self, module, name: str, kind: str, box: dict | None = None) -> None:
        super().__init__()
        # the submodule itself is held: the per-frame graph replaces it in the module later
        self.module = module.get_submodule(name) if kind == "submodule" else module
        self.name, self.kind, self.box = name, kind, box

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        if self.box is not None:  # the reference chain re-runs the unsplit module on these ids
            self.box.setdefault("ids", []).append((input_ids, attention_mask))
        if self.kind == "submodule":
            out = self.module(input_ids, attention_mask)
        else:
            out = getattr(self.module, self.name)(input_ids, attention_mask)
        return first_tensor(out)


def first_tensor(out) -> torch.Tensor:
    if isinstance(out, torch.Tensor):
        return out
    if isinstance(out, dict):  # transformers ModelOutput
        return next(iter(out.values()))
    if isinstance(out, (tuple, list)) and isinstance(out[0], torch.Tensor):
        return out[0]
    raise ExportError(
        f"the instruction encoder returned {type(out).__name__}; expected a tensor, a tuple or "
        "a ModelOutput whose first item is the embedding [B, L, D]"
    )


class _Slot(nn.Module):
    """Stands in for the encoder submodule: returns the fed embedding in the encoder's own
    output structure."""

    def __init__(self, like) -> None:
        super().__init__()
        self.fed: dict[str, torch.Tensor] = {}  # a dict: no tensor attribute set during export
        self.like = like

    def forward(self, *args, **kwargs):
        value = self.fed["embedding"]
        if isinstance(self.like, dict):
            return type(self.like)(**{next(iter(self.like)): value})
        if isinstance(self.like, (tuple, list)):
            return (value,)
        return value


class _SlotGraph(GenericGraph):
    """The per-frame graph: the module with its encoder replaced by a slot."""

    def __init__(self, module, spec: PolicySpec, slot: _Slot) -> None:
        super().__init__(module, spec, embedding=True, passes_ids=True)
        self.slot = slot

    def forward(self, *args: torch.Tensor) -> torch.Tensor:
        feeds = dict(zip(self.accepted, args, strict=True))
        self.slot.fed["embedding"] = feeds.pop("instruction_embedding")
        mask = feeds.get("attention_mask")
        feeds["input_ids"] = torch.zeros_like(mask)  # only the replaced encoder read the ids
        return self.finish(self.module(**self._declared(feeds)))


def _frame_graph_with_slot(clone, name, spec) -> _SlotGraph:
    parent_name, _, leaf = name.rpartition(".")
    parent = clone.get_submodule(parent_name) if parent_name else clone
    like = _encoder_output_structure(clone, name, spec)
    slot = _Slot(like)
    setattr(parent, leaf, slot)
    return _SlotGraph(clone, spec, slot)


def _encoder_output_structure(clone, name, spec):
    sub = clone.get_submodule(name)
    L = spec.instruction.max_tokens
    ids = torch.ones((1, L), dtype=torch.int64)
    with torch.no_grad():
        return sub(ids, torch.ones_like(ids))


class _UnsplitReference(nn.Module):
    """The caller's module end to end, on the token ids its encoder reference just saw."""

    def __init__(self, graph: GenericGraph, box: dict, frame_names: list[str]) -> None:
        super().__init__()
        self.graph, self.box, self.frame_names = graph, box, frame_names

    def forward(self, *args: torch.Tensor) -> torch.Tensor:
        by_name = dict(zip(self.frame_names, args, strict=True))
        # parity runs the encoder over every batch first, then this graph in the same batches
        by_name["input_ids"], by_name["attention_mask"] = self.box["ids"].pop(0)
        return self.graph(*(by_name[n] for n in self.graph.accepted))
