"""Presets and checkpoints of the autoregressive family, and local decoder weights.

| preset | decoder (hidden / layers / heads / kv heads / MLP) | vision (hidden / layers) |
| tiny   | 32 / 2 / 4 / 2 / 64                                 | 32 / 1                   |
| small  | 128 / 4 / 4 / 2 / 384                               | 64 / 2                   |

A fresh decoder's vocabulary is the instruction tokenizer's (259 byte tokens) plus 256 action
tokens. `decoder_weights=DIR` starts from a local transformers Llama / Qwen2 causal LM instead
(any size; its config sets the decoder, its tokenizer files, when present, the instruction
tokenizer); as in OpenVLA, the last 256 ids of its vocabulary become the action tokens.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from vla_edge.errors import CheckpointError, SpecError
from vla_edge.policy.autoregressive.configuration import (
    DECODER_PRESETS,
    DECODERS,
    VISION_PRESETS,
    ArVlaConfig,
)
from vla_edge.policy.spec import PolicySpec
from vla_edge.policy.tokenizer import BYTE_VOCAB

HEAD_DECODING = {"ar": "autoregressive", "ar-parallel": "parallel"}


def ar_config(
    preset: str,
    spec: PolicySpec,
    decoder_type: str = "llama",
    decoding: str = "autoregressive",
    **overrides: Any,
) -> ArVlaConfig:
    """Config of a fresh model; `overrides` set vision fields or `decoder.<field>` entries."""
    if preset not in DECODER_PRESETS:
        raise SpecError(f"unknown preset {preset!r}; known presets: {sorted(DECODER_PRESETS)}")
    if decoder_type not in DECODERS:
        raise SpecError(f"unknown decoder {decoder_type!r}; choose one of {list(DECODERS)}")
    bins = spec.action.bins
    decoder = {
        **DECODER_PRESETS[preset],
        "vocab_size": BYTE_VOCAB + bins,
        "max_position_embeddings": 2048,
        "rope_theta": 10000.0,
        "rms_norm_eps": 1e-6,
        "tie_word_embeddings": False,
    }
    vision = dict(VISION_PRESETS[preset])
    for key, value in overrides.items():
        if key.startswith("decoder."):
            decoder[key.split(".", 1)[1]] = value
        else:
            vision[key] = value
    return ArVlaConfig(
        spec=spec.to_dict(),
        decoder_type=decoder_type,
        decoder=decoder,
        decoding=decoding,
        text_vocab=BYTE_VOCAB,
        preset=preset,
        **vision,
    )


def training_model(preset: str, spec: PolicySpec, head: str, overrides: dict):
    """A fresh model for `vla-edge train --head ar|ar-parallel` (`--set decoder_type=qwen2`,
    `--set decoder.hidden_size=64`, `--set vision_layers=1`, ...)."""
    from vla_edge.policy.autoregressive.modeling import ArVlaForActions

    if head not in HEAD_DECODING:
        raise SpecError(f"unknown head {head!r}; autoregressive heads: {list(HEAD_DECODING)}")
    preset = preset if preset in DECODER_PRESETS else "small"
    opts = dict(overrides)
    decoder = opts.pop("decoder_type", "llama")
    return ArVlaForActions(ar_config(preset, spec, decoder, HEAD_DECODING[head], **opts))


def local_decoder(path: str | Path) -> tuple[str, dict, Path | None]:
    """(decoder type, its config dict, tokenizer dir or None) of a local transformers causal LM."""
    path = Path(path)
    cfg_file = path / "config.json"
    if not cfg_file.is_file():
        raise CheckpointError(f"no transformers model at {path} (config.json is missing)")
    data = json.loads(cfg_file.read_text())
    kind = data.get("model_type")
    if kind not in DECODERS:
        raise CheckpointError(
            f"{path} holds a {kind!r} model; the decoder must be one of {list(DECODERS)}"
        )
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(str(path), local_files_only=True).to_dict()
    tok = path if (path / "tokenizer_config.json").is_file() else None
    return kind, config, tok


def load_decoder_weights(model, path: str | Path) -> None:
    """Copy a local causal LM's weights into a model built from its config."""
    from transformers import AutoModelForCausalLM

    pretrained = AutoModelForCausalLM.from_pretrained(str(path), local_files_only=True)
    missing, unexpected = model.decoder.load_state_dict(pretrained.state_dict(), strict=False)
    missing = [m for m in missing if "rotary" not in m]
    if missing or unexpected:
        raise CheckpointError(
            f"decoder weights at {path} do not fit: missing {missing[:5]}, unexpected "
            f"{unexpected[:5]}"
        )


def pretrained_config(
    path: str | Path, spec: PolicySpec, decoding: str, preset: str = "tiny"
) -> tuple[ArVlaConfig, Path | None]:
    """Config around a local decoder; the spec's tokenizer becomes its tokenizer when it has one."""
    kind, config, tok = local_decoder(path)
    text_vocab = BYTE_VOCAB
    data = spec.to_dict()
    if tok is not None:
        from vla_edge.policy.tokenizer import HFTokenizer

        text_vocab = HFTokenizer(tok, spec.instruction.max_tokens).vocab_size
        data["instruction"]["tokenizer"] = "bundle"
    if config["vocab_size"] < text_vocab + spec.action.bins and tok is None:
        raise CheckpointError(
            f"decoder at {path} has a vocabulary of {config['vocab_size']}: too small for the "
            f"byte tokenizer ({BYTE_VOCAB}) and {spec.action.bins} action tokens"
        )
    cfg = ArVlaConfig(
        spec=data,
        decoder_type=kind,
        decoder=config,
        decoding=decoding,
        text_vocab=text_vocab,
        preset=preset,
        decoder_source=str(Path(path).resolve()),
        **VISION_PRESETS[preset],
    )
    return cfg, tok


def create_ar_checkpoint(
    out: Path,
    preset: str,
    head: str,
    spec: PolicySpec,
    decoder_type: str = "llama",
    decoder_weights: str | Path | None = None,
    seed: int = 0,
    force: bool = False,
) -> dict:
    """A fresh (or local-decoder) autoregressive model saved as a checkpoint directory."""
    import torch

    from vla_edge.policy.autoregressive.modeling import ArVlaForActions
    from vla_edge.policy.checkpoints import save_checkpoint

    if head not in HEAD_DECODING:
        raise SpecError(f"unknown head {head!r}; autoregressive heads: {list(HEAD_DECODING)}")
    from vla_edge.outputs import check_output

    check_output(out, force, inputs=[decoder_weights])
    torch.manual_seed(seed)
    tok = None
    if decoder_weights:
        cfg, tok = pretrained_config(decoder_weights, spec, HEAD_DECODING[head], preset)
        model = ArVlaForActions(cfg)
        load_decoder_weights(model, decoder_weights)
    else:
        model = ArVlaForActions(ar_config(preset, spec, decoder_type, HEAD_DECODING[head]))
    save_checkpoint(model, Path(out), tokenizer=tok)
    return {
        "path": str(out),
        "preset": preset,
        "head": head,
        "decoder": model.config.decoder_type,
        "decoder_source": model.config.decoder_source,
        "parameters": sum(p.numel() for p in model.parameters()),
        "decoder_parameters": sum(p.numel() for p in model.decoder.parameters()),
        "spec": model.policy_spec.to_dict(),
    }
