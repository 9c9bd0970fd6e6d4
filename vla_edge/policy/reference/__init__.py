"""Reference VLA family: transformers PreTrainedModel + PretrainedConfig, three action heads."""

from vla_edge.policy.reference.configuration import VlaConfig
from vla_edge.policy.reference.modeling import VlaForActions
from vla_edge.policy.reference.presets import (
    PRESETS,
    default_spec,
    load_minilm_weights,
    minilm_config,
    preset_config,
)

__all__ = [
    "PRESETS",
    "VlaConfig",
    "VlaForActions",
    "default_spec",
    "load_minilm_weights",
    "minilm_config",
    "preset_config",
]
