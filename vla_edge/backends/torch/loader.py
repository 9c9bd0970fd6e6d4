"""ModelFromCheckpoint: load a reference checkpoint (safetensors, offline) for inference."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from vla_edge.backends.base import TensorMeta
from vla_edge.errors import CheckpointError
from vla_edge.policy.spec import PolicySpec

# model_type in a checkpoint's config.json -> (module, class) of its family
FAMILIES = {
    "vla_edge_reference": ("vla_edge.policy.reference", "VlaForActions"),
    "vla_edge_autoregressive": ("vla_edge.policy.autoregressive.modeling", "ArVlaForActions"),
}


def model_type(path: Path) -> str | None:
    cfg = path / "config.json"
    if not cfg.is_file():
        return None
    try:
        found = json.loads(cfg.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    return found.get("model_type") if isinstance(found, dict) else None


def is_checkpoint(path: Path) -> bool:
    return model_type(path) in FAMILIES


def not_a_checkpoint(path: Path) -> str:
    """Why `path` is not a reference checkpoint, in words that say how to fix it."""
    cfg = path / "config.json"
    make = "create one with `vla-edge model create` or `vla-edge train`"
    if not path.is_dir():
        return f"{path} is not a directory: expected a reference checkpoint folder; {make}"
    if not cfg.is_file():
        return f"{path} is not a vla-edge reference checkpoint (it has no config.json); {make}"
    try:
        found = json.loads(cfg.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        return f"{cfg} is not UTF-8 text (byte {exc.start}): restore the file or {make}"
    except json.JSONDecodeError as exc:
        return (
            f"{cfg} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}; "
            "fix the file (or restore it from where the checkpoint came from)"
        )
    kind = found.get("model_type") if isinstance(found, dict) else None
    return (
        f"{path} is not a vla-edge reference checkpoint: its config.json has model_type "
        f"{kind!r}, expected one of {sorted(FAMILIES)}; {make}"
    )


class ModelFromCheckpoint:
    """Callable loader: `ModelFromCheckpoint(dir)()` -> VlaForActions in eval mode."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def __call__(self):
        if not is_checkpoint(self.path):
            raise CheckpointError(not_a_checkpoint(self.path))
        if not (self.path / "model.safetensors").is_file():
            raise CheckpointError(f"{self.path} has no model.safetensors")
        import importlib

        from transformers.utils import logging as hf_logging

        module, name = FAMILIES[model_type(self.path)]
        family = getattr(importlib.import_module(module), name)
        from vla_edge.export.checks import check_finite_weights, check_load_report

        hf_logging.disable_progress_bar()
        verbosity = hf_logging.get_verbosity()
        hf_logging.set_verbosity_error()  # its load report: we raise our own, naming the tensors
        try:
            model, info = family.from_pretrained(
                str(self.path), local_files_only=True, output_loading_info=True
            )
        except Exception as exc:  # transformers raises many kinds
            raise CheckpointError(f"could not load checkpoint {self.path}: {exc}") from exc
        finally:
            hf_logging.set_verbosity(verbosity)
        what = f"checkpoint {self.path}"
        check_load_report(info, what, CheckpointError)
        check_finite_weights(model, what, CheckpointError)
        return model.eval()


def graph_input_meta(
    spec: PolicySpec, names: list[str], embed_dim: int | None = None
) -> list[TensorMeta]:
    """Input metadata of a graph from the spec, by graph-input name."""
    L = spec.instruction.max_tokens
    table = {c.input_name: (np.uint8, (None, c.height, c.width, 3)) for c in spec.cameras}
    table.update(
        {
            "input_ids": (np.int64, (None, L)),
            "attention_mask": (np.int64, (None, L)),
            "instruction_embedding": (np.float32, (None, L, embed_dim)),
            "state": (np.float32, (None, spec.state_dim)),
        }
    )
    return [TensorMeta(n, np.dtype(table[n][0]), table[n][1]) for n in names]


def runners_from_model(model, monolithic: bool = False, threads: int | None = None) -> dict:
    """Torch runners over the same graph modules that export uses, by role."""
    from vla_edge.backends.torch.runner import TorchRunner
    from vla_edge.export.graphs import reference_graphs

    if model.config.model_type == "vla_edge_autoregressive":  # decoder LLM: KV-cache graphs
        from vla_edge.export.kv_graphs import torch_runners

        return torch_runners(model, threads)
    spec, d = model.policy_spec, model.config.hidden_size
    return {
        g.role: TorchRunner(
            g.module, graph_input_meta(spec, g.input_names, d), g.output_names, threads
        )
        for g in reference_graphs(model, monolithic)
    }


def runners_from_bundle(bundle, threads: int | None = None) -> dict:
    """Torch runners from the source checkpoint a bundle carries, in the bundle's layout."""
    from vla_edge.errors import BackendError

    if bundle.source_dir is None:
        raise BackendError(
            f"bundle {bundle.path} carries no PyTorch source checkpoint (exported from a generic "
            "module, or with --no-source): use --backend onnxrt"
        )
    if bundle.precision != "fp32":
        raise BackendError(
            f"bundle {bundle.path} is {bundle.precision}; its source checkpoint is the FP32 "
            "parent. Use --backend onnxrt to run this precision"
        )
    model = ModelFromCheckpoint(bundle.source_dir)()
    return runners_from_model(model, bundle.layout == "monolithic", threads)
