"""pi0: images + instruction + state -> a chunk by flow matching (a PaliGemma prefix: SigLIP
per camera + Gemma over the prompt, then a Gemma action expert over the state and the noisy
actions, `num_inference_steps` Euler steps against the prefix's KV cache).

What the graph copies from LeRobot: images resized with padding to `image_resolution` and
scaled to [-1, 1] for SigLIP, cameras the checkpoint lists as `empty_camera_*` fed as LeRobot
feeds them (all -1, masked out), the state padded to `max_state_dim`, the actions cut back to
the dataset's dimension. The noise is a fixed buffer; the PaliGemma tokenizer and LeRobot's
text preprocessing (a trailing "\\n", right padding to `tokenizer_max_length`) ship in the
bundle. The legacy exporter fails (transformers' mask code, a bool CumSum ONNX Runtime
rejects), so the dynamo exporter (opset 18) is declared.
"""

from __future__ import annotations

from vla_edge.errors import AdapterError
from vla_edge.policy.adapters import register_adapter
from vla_edge.policy.adapters.lerobot.base import LeRobotAdapter


@register_adapter("lerobot-pi0")
class Pi0Adapter(LeRobotAdapter):
    policy_type = "pi0"
    exporter = "dynamo"
    atol_fraction = 2e-3
    takes_text = True
    representation = "flow"
    noise = True

    def check(self, loaded) -> list[str]:
        cfg = loaded.config
        if getattr(cfg, "use_relative_actions", False):
            raise AdapterError(
                f"{self.policy_type} with use_relative_actions=True is not supported: its "
                "postprocessor adds the state to the actions outside the model; export a "
                "checkpoint trained with absolute actions"
            )
        if getattr(cfg, "dtype", "float32") == "bfloat16":
            loaded.policy.to(dtype=__import__("torch").float32)
            cfg.dtype = "float32"
            return [
                "bfloat16 -> float32: the graph is exported in FP32 (vla-edge quantize --fp16 "
                "makes the half-precision bundle, judged against it)"
            ]
        return []


PI05_TEMPLATE = "Task: {task}, State: {state};\nAction: "


@register_adapter("lerobot-pi05")
class Pi05Adapter(Pi0Adapter):
    """pi0.5: as pi0, but the state reaches the model only through the prompt: LeRobot
    normalizes it (QUANTILES by default), bins it into 256 bins over [-1, 1] and writes it into
    "Task: ..., State: ...;\\nAction: " before tokenizing (no newline step). The bundle's spec
    carries that recipe (`instruction.state_prompt`) and the runtime writes the prompt every
    frame, so the text changes with the state: a prefix KV cache cannot be reused across frames
    (pi0's can while the instruction is unchanged)."""

    policy_type = "pi05"
    text_suffix = ""

    def spec(self, loaded, tokenizer_max=None):
        from dataclasses import replace

        spec = super().spec(loaded, tokenizer_max)
        prompt = {"template": PI05_TEMPLATE, "bins": 256, **state_affine(loaded)}
        spec.instruction = replace(spec.instruction, state_prompt=prompt)
        spec.__post_init__()  # validates the prompt against state_dim
        return spec


def state_affine(loaded) -> dict[str, list[float]]:
    """LeRobot's state normalization as norm = mul * (x - sub) / div + add, float32 values
    computed the way its NormalizerProcessorStep computes them (same epsilon handling)."""
    import torch
    from lerobot.configs.types import FeatureType, NormalizationMode

    from vla_edge.policy.adapters.lerobot.base import OBS_STATE, _stats

    step = loaded.step("pre", "NormalizerProcessorStep")
    mode = step.norm_map.get(FeatureType.STATE, NormalizationMode.IDENTITY)
    st = {k: v.flatten().to(torch.float32) for k, v in _stats(loaded).get(OBS_STATE, {}).items()}
    dim = int(loaded.config.robot_state_feature.shape[0])
    one, zero = torch.ones(dim), torch.zeros(dim)
    eps = torch.tensor(step.eps, dtype=torch.float32)

    def safe(denom):
        return torch.where(denom == 0, eps, denom)

    if mode == NormalizationMode.MEAN_STD:
        mul, sub, div, add = one, st["mean"], st["std"] + eps, zero
    elif mode == NormalizationMode.MIN_MAX:
        mul, sub, div, add = 2 * one, st["min"], safe(st["max"] - st["min"]), -one
    elif mode == NormalizationMode.QUANTILES:
        mul, sub, div, add = 2 * one, st["q01"], safe(st["q99"] - st["q01"]), -one
    elif mode == NormalizationMode.QUANTILE10:
        mul, sub, div, add = 2 * one, st["q10"], safe(st["q90"] - st["q10"]), -one
    elif mode == NormalizationMode.IDENTITY:
        mul, sub, div, add = one, zero, one, zero
    else:
        raise AdapterError(f"pi0.5 state normalization {mode} is not supported")
    return {k: v.tolist() for k, v in dict(mul=mul, sub=sub, div=div, add=add).items()}
