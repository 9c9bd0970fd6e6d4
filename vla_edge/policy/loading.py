"""Build the runners behind a Policy from a bundle or a checkpoint, for a backend (through
`vla_edge.backends.runners_for`, the one place runners are made)."""

from __future__ import annotations

from pathlib import Path


def load_policy(cls, path: Path, backend: str, options, allow_failed: bool = False):
    from vla_edge.backends.factory import runners_for
    from vla_edge.policy.policy import bundle_or_checkpoint

    if bundle_or_checkpoint(path) == "checkpoint":
        from vla_edge.backends.factory import open_source

        model = open_source(path, backend)  # refuses a checkpoint for onnxrt/trt with the fix
        tok_dir = path / "tokenizer" if (path / "tokenizer").is_dir() else None
        runners = runners_for(model, backend, options)
        return _policy(cls, model.policy_spec, runners, tok_dir, backend, str(path))
    from vla_edge.bundle import Bundle

    bundle = Bundle.load(path)
    failed = refuse_failed(bundle, allow_failed)
    runners = runners_for(bundle, backend, options)
    engine_failed, unvalidated = refuse_failed_engines(bundle, backend, options, allow_failed)
    policy = _policy(cls, bundle.spec, runners, _bundle_tokenizer(bundle, backend), backend, path)
    if "flow" in bundle.manifest:  # a split flow-matching bundle: the sampling loop drives it
        from vla_edge.policy.flow import FlowSampler, load_noise

        try:
            policy.use_flow(
                FlowSampler(runners, bundle.spec, bundle.manifest["flow"], load_noise(bundle))
            )
        except BaseException:
            policy.close()
            raise
    policy.failure_reasons = failed + engine_failed
    policy.unvalidated = unvalidated
    return policy


def refuse_failed_engines(bundle, backend: str, options, allow_failed: bool):
    """(why `vla-edge validate` failed the engines/graphs this backend runs, those of them never
    validated that need it); a BundleError naming the failures unless `allow_failed`. Runs
    before any runner is activated."""
    from vla_edge.errors import BundleError
    from vla_edge.validate import engine_status

    failed, unvalidated = engine_status(bundle, backend, options)
    if failed and not allow_failed:
        raise BundleError(
            f"{bundle.path} on {backend} failed validation against its FP32 parent "
            f"({'; '.join(failed)}): it must not drive a robot. Rebuild the engines (e.g. "
            f"`vla-edge build {bundle.path} --precision fp16`) or re-quantize within budget, and "
            f"`vla-edge validate {bundle.path} --backend {backend}` again; or pass "
            "--allow-failed (Policy.load(..., allow_failed=True)) to use it anyway"
        )
    return failed, unvalidated


def refuse_failed(bundle, allow_failed: bool) -> list[str]:
    """The bundle's failure reasons; a BundleError naming them unless `allow_failed`."""
    from vla_edge.errors import BundleError

    reasons = bundle.failure_reasons
    if reasons and not allow_failed:
        raise BundleError(
            f"bundle {bundle.path} is marked failed ({'; '.join(reasons)}): it was kept with "
            "--keep-failed and must not drive a robot. Re-make it within its budget (e.g. "
            "`vla-edge quantize PARENT --precision mixed`), or pass --allow-failed "
            "(Policy.load(..., allow_failed=True)) to use it anyway"
        )
    return reasons


def _bundle_tokenizer(bundle, backend: str):
    if backend == "torch" and bundle.source_dir is not None:
        src = bundle.source_dir / "tokenizer"
        if src.is_dir():
            return src
    return bundle.tokenizer_dir


def _policy(cls, spec, runners, tok_dir, backend: str, source):
    from vla_edge.policy.tokenizer import load_tokenizer

    ins = spec.instruction
    tokenizer = load_tokenizer(ins.tokenizer, ins.max_tokens, tok_dir, ins.suffix)
    return cls(spec, runners, tokenizer, backend, str(source))
