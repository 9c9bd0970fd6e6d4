"""SmolVLA: images + instruction + state -> a chunk by flow matching (a SmolVLM prefix and an
action expert, `num_steps` Euler steps). The noise is a fixed buffer; the tokenizer and
LeRobot's text preprocessing (a trailing "\\n", right padding) ship in the bundle. The legacy
exporter fails on transformers' sdpa mask, so the dynamo exporter (opset 18) is declared."""

from __future__ import annotations

from vla_edge.policy.adapters import register_adapter
from vla_edge.policy.adapters.lerobot.base import LeRobotAdapter


@register_adapter("lerobot-smolvla")
class SmolVlaAdapter(LeRobotAdapter):
    policy_type = "smolvla"
    exporter = "dynamo"
    atol_fraction = 2e-3
    takes_text = True
    representation = "flow"
    noise = True
