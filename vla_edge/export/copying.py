"""The copy that export traces: a deep copy of the caller's module, closures included.

Tracing can change a module's later eager behaviour (seen with transformers' BERT masks), so
export traces a copy and keeps the caller's module as the parity reference. `copy.deepcopy`
treats functions as atoms: a wrapper that reaches its policy through a closure (a lambda
attribute, or a forward defined inside a factory function) would keep calling the caller's
policy, whose parameters the tracer then meets as foreign constants ("Cannot insert a Tensor
that requires grad as a constant"). Here such functions are rebuilt with copied cells, the
modules they hold are returned so the graph can register them, and the copy is checked to
share no parameter with the original.
"""

from __future__ import annotations

import copy
import types

from torch import nn

from vla_edge.errors import ExportError


def held_modules(module: nn.Module) -> list[nn.Module]:
    """Modules reached only through closures of `module`'s functions (instance attributes and
    the forward of each submodule's class), not registered as submodules."""
    registered = {id(m) for m in module.modules()}
    found: dict[int, nn.Module] = {}
    for _owner, _attr, fn in _functions_to_rebuild(module):
        for cell in fn.__closure__:
            for held in _modules_in(_cell_value(cell)):
                if id(held) not in registered:
                    found.setdefault(id(held), held)
    return list(found.values())


def copy_for_export(module: nn.Module) -> nn.Module:
    """A deep copy of `module` in eval mode whose closures refer to copies too.

    Raises ExportError, with the reason, when the module cannot be copied or the copy still
    shares parameters with the original: export never traces the caller's module."""
    memo: dict[int, object] = {}
    try:
        for owner, attr, fn in _functions_to_rebuild(module):
            memo.setdefault(id(fn), _rebuild(fn, memo))
            if attr == "forward" and owner is not None:
                memo.setdefault(("forward", id(owner)), memo[id(fn)])
        clone = copy.deepcopy(module, memo)
        _bind_class_forwards(module, clone, memo)
    except Exception as exc:
        raise ExportError(
            f"could not copy {type(module).__name__} for tracing ({type(exc).__name__}: "
            f"{_first_line(exc)}); export traces a copy so that your module is never changed. "
            "Make the module deep-copyable (register tensors as parameters or buffers, keep "
            "open files, locks and CUDA streams out of its attributes)"
        ) from exc
    shared = _shared_parameters(module, clone)
    if shared:
        raise ExportError(
            f"the copy of {type(module).__name__} still uses the original's parameters "
            f"{shared[:3]} (held somewhere a copy cannot reach, e.g. a global); register the "
            "module that owns them as an attribute of the exported module"
        )
    return clone.eval()


def _functions_to_rebuild(module: nn.Module) -> list[tuple[nn.Module | None, str, object]]:
    """(owner, attribute, function) for every closure-carrying function of the module tree."""
    out = []
    for sub in module.modules():
        for attr, value in vars(sub).items():
            fn = _function(value)
            if fn is not None and fn.__closure__:
                out.append((None, attr, fn))
        forward = None if "forward" in vars(sub) else getattr(type(sub), "forward", None)
        closure = getattr(forward, "__closure__", None) or ()
        if isinstance(forward, types.FunctionType) and any(
            _modules_in(_cell_value(c)) for c in closure
        ):
            out.append((sub, "forward", forward))
    return out


def _function(value) -> types.FunctionType | None:
    if isinstance(value, types.FunctionType):
        return value
    if isinstance(value, types.MethodType) and isinstance(value.__func__, types.FunctionType):
        return value.__func__
    return None


def _rebuild(fn: types.FunctionType, memo: dict) -> types.FunctionType:
    cells = tuple(types.CellType(copy.deepcopy(_cell_value(c), memo)) for c in fn.__closure__)
    new = types.FunctionType(fn.__code__, fn.__globals__, fn.__name__, fn.__defaults__, cells)
    new.__kwdefaults__ = copy.copy(fn.__kwdefaults__)
    new.__qualname__, new.__doc__ = fn.__qualname__, fn.__doc__
    return new


def _bind_class_forwards(module: nn.Module, clone: nn.Module, memo: dict) -> None:
    """A forward defined in a factory closes over the caller's objects at class level: give
    each copied instance its rebuilt forward as an instance attribute."""
    for orig, new in zip(module.modules(), clone.modules(), strict=True):
        rebuilt = memo.get(("forward", id(orig)))
        if rebuilt is not None:
            object.__setattr__(new, "forward", types.MethodType(rebuilt, new))


def _shared_parameters(module: nn.Module, clone: nn.Module) -> list[str]:
    theirs = {t.data_ptr() for t in _tensors(module) if t.numel()}
    return [name for name, t in _named_tensors(clone) if t.numel() and t.data_ptr() in theirs]


def _tensors(module: nn.Module):
    return [t for _, t in _named_tensors(module)]


def _named_tensors(module: nn.Module):
    seen = [module, *held_modules(module)]
    out = []
    for i, m in enumerate(seen):
        prefix = "" if i == 0 else f"<closure {type(m).__name__}>."
        out += [(prefix + n, t) for n, t in m.named_parameters()]
        out += [(prefix + n, t) for n, t in m.named_buffers()]
    return out


def _modules_in(value) -> list[nn.Module]:
    """Modules a closure cell holds: a module, a bound method of one, or a flat container."""
    if isinstance(value, types.MethodType):
        value = value.__self__
    if isinstance(value, nn.Module):
        return [value]
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, (list, tuple)):
        return [v for v in value if isinstance(v, nn.Module)]
    return []


def _cell_value(cell):
    try:
        return cell.cell_contents
    except ValueError:  # an empty cell
        return None


def _first_line(exc: BaseException) -> str:
    text = str(exc)
    return text.splitlines()[0] if text else ""
