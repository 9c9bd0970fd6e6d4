"""Build the runners behind a Policy from a bundle or a checkpoint, for a backend."""

from __future__ import annotations

from pathlib import Path

from vla_edge.errors import BackendError


def load_policy(cls, path: Path, backend: str, providers, threads, device):
    from vla_edge.policy.policy import bundle_or_checkpoint

    kind = bundle_or_checkpoint(path)
    if kind == "checkpoint":
        if backend != "torch":
            raise BackendError(
                f"{path} is a PyTorch checkpoint: use --backend torch, or export it first with "
                f"`vla-edge export {path} -o BUNDLE` to run it with {backend}"
            )
        return _torch_policy(cls, path, threads, source=str(path))
    from vla_edge.bundle import Bundle

    bundle = Bundle.load(path)
    if backend == "onnxrt":
        return _onnxrt_policy(cls, bundle, providers or ["cpu"], threads)
    if backend == "torch":
        if bundle.source_dir is None:
            raise BackendError(
                f"bundle {path} carries no PyTorch source checkpoint (exported from a generic "
                "module, or with --no-source): use --backend onnxrt"
            )
        if bundle.precision != "fp32":
            raise BackendError(
                f"bundle {path} is {bundle.precision}; its source checkpoint is the FP32 parent. "
                "Use --backend onnxrt to run this precision"
            )
        return _torch_policy(cls, bundle.source_dir, threads, source=str(path))
    return _trt_policy(cls, bundle, device)


def _tokenizer(spec, directory):
    from vla_edge.policy.tokenizer import load_tokenizer

    return load_tokenizer(spec.instruction.tokenizer, spec.instruction.max_tokens, directory)


def _onnxrt_policy(cls, bundle, providers, threads):
    from vla_edge.backends.onnxrt import OnnxRuntimeRunner, SessionFromOnnx

    runners = {
        g["role"]: OnnxRuntimeRunner(SessionFromOnnx(bundle.path / g["file"], providers, threads))
        for g in bundle.graphs
    }
    return cls(
        bundle.spec,
        runners,
        _tokenizer(bundle.spec, bundle.tokenizer_dir),
        "onnxrt",
        str(bundle.path),
    )


def torch_runners(model, monolithic: bool = False, threads: int | None = None):
    """Torch runners over the same graph modules that export uses."""
    from vla_edge.backends.torch import TorchRunner, graph_input_meta
    from vla_edge.export.graphs import reference_graphs

    spec, d = model.policy_spec, model.config.hidden_size
    return {
        g.role: TorchRunner(
            g.module, graph_input_meta(spec, g.input_names, d), g.output_names, threads
        )
        for g in reference_graphs(model, monolithic)
    }


def _torch_policy(cls, ckpt: Path, threads, source: str):
    from vla_edge.backends.torch import ModelFromCheckpoint

    model = ModelFromCheckpoint(ckpt)()
    tok_dir = ckpt / "tokenizer" if (ckpt / "tokenizer").is_dir() else None
    return cls(
        model.policy_spec,
        torch_runners(model, threads=threads),
        _tokenizer(model.policy_spec, tok_dir),
        "torch",
        source,
    )


def _trt_policy(cls, bundle, device):
    try:
        from vla_edge.backends.trt.loader import runners_for_bundle
    except ImportError as exc:
        raise BackendError(f"the TensorRT backend is not available in this install: {exc}") from exc
    runners = runners_for_bundle(bundle, device)
    return cls(
        bundle.spec, runners, _tokenizer(bundle.spec, bundle.tokenizer_dir), "trt", str(bundle.path)
    )
