"""Policy contract (PolicySpec), the reference VLA family, adapters, and the Policy object."""

from vla_edge.policy.spec import (
    ActionSpace,
    CameraSpec,
    InstructionSpec,
    Normalization,
    PolicySpec,
)

__all__ = ["ActionSpace", "CameraSpec", "InstructionSpec", "Normalization", "PolicySpec"]
