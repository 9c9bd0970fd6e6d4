"""Adapters: importers for models we did not define, each a registered, declarative class.

`@register_adapter("lerobot-act")` puts a class in the registry; `get_adapter(name)` returns an
instance or raises an error that lists the known names. Importing this package registers
nothing heavy: the LeRobot adapters register when `vla_edge.policy.adapters.lerobot` is
imported (it needs torch; lerobot itself only when a checkpoint is loaded).
"""

from __future__ import annotations

from vla_edge.errors import AdapterError

_REGISTRY: dict[str, type] = {}


def register_adapter(name: str):
    def wrap(cls: type) -> type:
        if name in _REGISTRY and _REGISTRY[name] is not cls:
            raise AdapterError(
                f"adapter {name!r} is registered twice ({_REGISTRY[name]} and {cls})"
            )
        cls.name = name
        _REGISTRY[name] = cls
        return cls

    return wrap


def known_adapters() -> list[str]:
    _load_builtin()
    return sorted(_REGISTRY)


def get_adapter(name: str):
    """An instance of the adapter registered under `name`."""
    _load_builtin()
    if name not in _REGISTRY:
        raise AdapterError(
            f"unknown adapter {name!r}; known adapters: {', '.join(known_adapters())}"
        )
    return _REGISTRY[name]()


def _load_builtin() -> None:
    import vla_edge.policy.adapters.lerobot  # noqa: F401  (registers lerobot-*)


__all__ = ["get_adapter", "known_adapters", "register_adapter"]
