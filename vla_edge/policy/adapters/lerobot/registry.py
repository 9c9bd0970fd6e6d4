"""Which registered adapter serves a LeRobot policy type."""

from __future__ import annotations

from vla_edge.errors import AdapterError
from vla_edge.policy.adapters import _REGISTRY, get_adapter


def adapter_for(policy_type: str | None):
    by_type = {
        cls.policy_type: name
        for name, cls in _REGISTRY.items()
        if name.startswith("lerobot-") and getattr(cls, "policy_type", "")
    }
    if policy_type not in by_type:
        raise AdapterError(
            f"no adapter for LeRobot policy type {policy_type!r}; supported types: "
            f"{', '.join(sorted(by_type))} (adapters {', '.join(sorted(by_type.values()))})"
        )
    return get_adapter(by_type[policy_type])
