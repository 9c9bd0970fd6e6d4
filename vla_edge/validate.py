"""`validate(bundle, ValidateConfig(backend="trt"))`: does the graph or engine that will run on
the robot still compute what the FP32 parent computes?

The candidate is the bundle run on the chosen backend (its TensorRT engines, ONNX Runtime with
the chosen providers, or its PyTorch source), through `Policy` and so through `runners_for`.
The reference is the FP32 parent on ONNX Runtime CPU: the nearest FP32 bundle up the lineage
(the bundle itself when it is FP32, or `parent=` given explicitly), run on the same
observations; when no FP32 bundle is at hand, the FP32 actions the export recorded beside its
observations (`samples/validation.npz`). The observations are real frames from demonstrations
(`data=`, held out: not the quantization's calibration frames unless the same set is given) or
else the export's recorded parity observations.

The actions are judged by the same budget as quantization (the one recorded by `quantize` for
this bundle, or `budget=`, or the default), and the result is recorded in the manifest under
`validation.engines[<key>]`: the engine file for TensorRT (with the engine's sha256, so a
rebuilt engine is no longer validated), `onnxrt:<providers>` or `torch` otherwise. `run`,
`predict` and `eval` read it (`engine_validation`): they warn on an engine never validated and
refuse one that failed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from vla_edge.backends.factory import RunnerOptions
from vla_edge.bundle import engine_validation
from vla_edge.errors import ActionError, BundleError, InputError, ParityError

__all__ = ["ValidateConfig", "engine_validation", "judge", "validate"]

DATA_SAMPLES = 64  # observations drawn from --data


@dataclass
class ValidateConfig:
    """`backend`: onnxrt | trt | torch, run with `options`. `data`: demonstrations (or an image
    folder / .npz, as `--calib` reads them) to draw `samples` observations from; default the
    export's recorded observations. `parent`: the FP32 bundle to compare with (default: found
    through the lineage). `budget`: a quantize budget text or object (default: the one this
    bundle was quantized under, else the default budget). `record`: write the result into the
    manifest."""

    backend: str = "onnxrt"
    options: RunnerOptions = field(default_factory=RunnerOptions)
    data: str | Path | None = None
    samples: int = DATA_SAMPLES
    parent: str | Path | None = None
    budget: Any = None
    batch: int = 8
    seed: int = 11
    record: bool = True

    def __post_init__(self) -> None:
        from vla_edge.backends.base import BACKENDS

        if self.backend not in BACKENDS:
            raise InputError(f"--backend must be one of {list(BACKENDS)}, got {self.backend!r}")
        if self.samples < 1 or self.batch < 1:
            raise InputError(f"samples and batch must be >= 1, got {self.samples}/{self.batch}")
        from vla_edge.data.lerobot_dataset import split_source

        if self.data is not None and not split_source(self.data)[0].exists():
            raise InputError(
                f"--data {self.data} does not exist: give a demonstration folder or a "
                "LeRobotDataset v3 folder (lerobot:PATH)"
            )


# --- what is compared with what -------------------------------------------------------------
def fp32_parent(bundle: Any, explicit: str | Path | None = None) -> Any | None:
    """The FP32 bundle to compare with: `explicit`, the bundle itself when every graph is FP32,
    else the nearest FP32 ancestor whose directory still holds it (lineage parent_path and
    hash); None when there is none."""
    from vla_edge.bench.variants import load_with_lineage
    from vla_edge.bundle import Bundle

    if explicit is not None:
        parent = Bundle.load(explicit)
        if not _is_fp32(parent):
            raise InputError(
                f"--parent {explicit} is not an FP32 bundle (its graphs are "
                f"{[g.get('precision', 'fp32') for g in parent.graphs]}): give the export"
            )
        _same_interface(parent, bundle)
        return parent
    for candidate, _role in load_with_lineage([bundle.path]):
        if _is_fp32(candidate):
            return candidate
    return None


def _is_fp32(bundle: Any) -> bool:
    return all(g.get("precision", "fp32") == "fp32" for g in bundle.graphs)


def _same_interface(parent: Any, bundle: Any) -> None:
    a, b = parent.spec, bundle.spec
    if (
        a.camera_names != b.camera_names
        or a.action.dim != b.action.dim
        or a.state_dim != (b.state_dim)
    ):
        raise InputError(
            f"--parent {parent.path} takes cameras {a.camera_names}, state {a.state_dim} and "
            f"gives {a.action.dim} actions; {bundle.path} takes {b.camera_names}, state "
            f"{b.state_dim}, {b.action.dim} actions: give the bundle it was made from"
        )


def observations_for(
    bundle: Any, config: ValidateConfig, parent: Any | None = None
) -> tuple[dict, np.ndarray | None, dict]:
    """(observations, recorded FP32 actions or None, where they came from)."""
    from vla_edge.export.samples import SAMPLES_FILE, load_observations, observations

    if config.data is not None:
        obs, info = observations(bundle.spec, config.samples, config.data, config.seed)
        return obs, None, info
    path = bundle.path / SAMPLES_FILE
    if not path.is_file():
        raise BundleError(
            f"{bundle.path} records no parity observations ({SAMPLES_FILE}; bundles exported "
            "before they were recorded): pass --data DEMOS (demonstrations held out from "
            "calibration)"
        )
    obs, actions = load_observations(path)
    exported = _export_parity(bundle, parent)
    info = {
        "samples": len(obs["instructions"]),
        "real_frames": exported.get("real_frames"),
        "source": f"recorded at export (frames: {exported.get('source') or 'unknown'})",
    }
    return obs, actions, info


def _export_parity(bundle: Any, parent: Any | None) -> dict:
    """The export's parity report (which says where the recorded frames came from): the
    bundle's own, or its FP32 parent's for a quantized bundle (which copied the samples)."""
    for b in (bundle, parent):
        parity = ((b.manifest.get("validation") or {}).get("parity") or {}) if b else {}
        for report in (parity.get("observations") or {}, parity):  # a decoder's, an export's
            if report.get("source"):
                return report
    return {}


def policy_actions(policy: Any, obs: dict, batch: int) -> np.ndarray:
    """The policy's action chunks on the observations, `batch` at a time."""
    spec = policy.spec
    n = len(obs["instructions"])
    out = []
    for i in range(0, n, batch):
        frames = {c.name: obs[c.input_name][i : i + batch] for c in spec.cameras}
        state = obs["state"][i : i + batch] if spec.state_dim else None
        texts = [str(t) for t in obs["instructions"][i : i + batch]]
        out.append(policy.predict_batch(frames, texts, state))
    return np.concatenate(out)


def reference_actions(
    bundle: Any, parent: Any | None, obs: dict, recorded: np.ndarray | None, batch: int
) -> tuple[np.ndarray, dict]:
    """The FP32 parent's actions on the observations (ONNX Runtime CPU), else the recorded
    ones."""
    from vla_edge.policy.policy import Policy

    if parent is not None:
        with Policy.load(parent.path, backend="onnxrt") as ref:
            actions = policy_actions(ref, obs, batch)
        itself = parent.path.resolve() == bundle.path.resolve()
        kind = "FP32 bundle itself" if itself else "FP32 parent"
        return actions, {
            "kind": f"{kind} on ONNX Runtime CPU",
            "bundle": str(parent.path),
            "content_hash": parent.content_hash,
        }
    if recorded is None:
        raise BundleError(
            f"no FP32 parent of {bundle.path} was found (its lineage parent_path is gone or "
            "changed) to run on the --data frames: pass --parent FP32_BUNDLE, or leave out "
            "--data to compare with the FP32 actions recorded at export"
        )
    return recorded, {"kind": "FP32 actions recorded at export", "bundle": None}


# --- the budget ---------------------------------------------------------------------------
def budget_for(bundle: Any, given: Any = None) -> Any:
    """`given` (text or Budget), else the budget this bundle was quantized under, else the
    default budget for its head. A recorded term this Budget does not know is left out; when
    nothing is left, the default budget applies."""
    import dataclasses

    from vla_edge.compress.quantize.config import Budget

    spec = bundle.spec
    if isinstance(given, str):
        return Budget.parse(given, spec)
    if given is not None:
        return given
    recorded = ((bundle.manifest.get("validation") or {}).get("quantization") or {}).get("budget")
    known = {f.name for f in dataclasses.fields(Budget)}
    terms = {("error" if k == "p99_error" else k): v for k, v in (recorded or {}).items()}
    terms = {k: v for k, v in terms.items() if k in known and v not in (None, {})}
    budget = Budget(**terms) if terms else None
    return budget if budget is not None and not budget.is_empty else Budget.default(spec)


def judge(reference: np.ndarray, candidate: np.ndarray, spec: Any, budget: Any) -> dict:
    """The budget's verdict on the candidate's actions (vla_edge.budget.judge, the judge
    quantize uses): passed, reasons, samples, identical bins, and per action dimension the
    p99/max/mean absolute error in its units, the parent's std and the limit that applied."""
    from vla_edge.budget import judge as budget_judge

    ref = np.asarray(reference, np.float64)
    cand = np.asarray(candidate, np.float64)
    if ref.shape != cand.shape:
        raise ParityError(f"actions of shape {list(cand.shape)} != the parent's {list(ref.shape)}")
    verdict = budget_judge(ref, cand, spec, budget)
    err = np.abs(ref - cand).reshape(-1, spec.action.dim)
    errors = {
        name: {**verdict.dims[name], "mean": float(err[:, i].mean())}
        for i, name in enumerate(spec.action.names)
    }
    return _verdict(verdict.reasons, ref, verdict.identical_bins, errors, budget)


def _verdict(reasons, ref, bins, errors, budget) -> dict:
    return {
        "passed": not reasons,
        "reasons": reasons,
        "samples": int(ref.shape[0]),
        "identical_bins": bins,
        "action_error": errors,
        "budget": budget.to_dict(),
    }


# --- the record -----------------------------------------------------------------------------
def validation_keys(bundle: Any, backend: str, options: RunnerOptions) -> list[str]:
    """Where a result is recorded: each TensorRT engine that runs (the engine files chosen for
    this machine or options.device), else `onnxrt:<providers>` / `torch`."""
    if backend == "trt":
        from vla_edge.backends.trt.loader import choose_engines
        from vla_edge.backends.trt.sidecar import machine_info

        return [e["engine"] for e in choose_engines(bundle, options.device, machine_info())]
    if backend == "onnxrt":
        return ["onnxrt:" + "+".join(options.providers)]
    return [backend]


def _file_hash(bundle: Any, rel: str) -> str | None:
    return (bundle.manifest.get("files", {}).get(rel) or {}).get("sha256")


def record_result(bundle: Any, keys: list[str], result: dict) -> None:
    """Write the result under validation.engines[key] for every key (an engine's entry carries
    its file's sha256), through the bundle's one in-place update."""
    import json

    validation = json.loads(json.dumps(bundle.manifest.get("validation") or {}))
    engines = validation.setdefault("engines", {})
    for key in keys:
        entry = dict(result)
        sha = _file_hash(bundle, key)
        if sha is not None:
            entry["engine_sha256"] = sha
        engines[key] = entry
    bundle.update(validation=validation)


def needs_validation(key: str) -> bool:
    """Whether a backend's numbers were checked by nothing but `validate`: TensorRT engines and
    ONNX Runtime on GPU providers (export parity and the quantize budget judged ONNX Runtime CPU
    against the PyTorch source)."""
    return key.startswith("engines/") or (key.startswith("onnxrt:") and key != "onnxrt:cpu")


def engine_status(bundle: Any, backend: str, options: RunnerOptions) -> tuple[list[str], list[str]]:
    """(why `validate` failed what `backend` runs for this bundle, the keys of it never
    validated that need it): what run/predict/eval refuse without --allow-failed, and what they
    warn about."""
    from vla_edge.bundle import failure_reasons

    own = len(failure_reasons(bundle.manifest))  # the bundle's own marks are reported apart
    failed, missing = [], []
    for key in validation_keys(bundle, backend, options):
        failed += failure_reasons(bundle.manifest, engine=key)[own:]
        if engine_validation(bundle.manifest, key) is None and needs_validation(key):
            missing.append(key)
    return failed, missing


# --- the verb -------------------------------------------------------------------------------
def validate(
    path: str | Path, config: ValidateConfig | None = None, say: Callable[[str], None] = print
) -> dict:
    """Validate the bundle on `config.backend` against its FP32 parent; returns the result
    (also recorded in the manifest unless `config.record` is False)."""
    from vla_edge.bundle import Bundle
    from vla_edge.policy.policy import Policy

    config = config or ValidateConfig()
    bundle = Bundle.load(path)
    keys = validation_keys(bundle, config.backend, config.options)
    parent = fp32_parent(bundle, config.parent)
    obs, recorded, info = observations_for(bundle, config, parent)
    say(f"validate: {info['samples']} observations ({info['source']}) on {config.backend}")
    reference, ref_info = reference_actions(bundle, parent, obs, recorded, config.batch)
    budget = budget_for(bundle, config.budget)
    # a bundle or engine that failed before is validated again, not refused
    with Policy.load(
        bundle.path, backend=config.backend, options=config.options, allow_failed=True
    ) as policy:
        try:
            actions = policy_actions(policy, obs, config.batch)
        except ActionError as exc:  # NaN/inf actions: a failed validation, recorded as such
            actions = None
            verdict = _verdict([str(exc)], reference, None, {}, budget)
    if actions is not None:
        verdict = judge(reference, actions, bundle.spec, budget)
    result = {
        **verdict,
        "backend": config.backend,
        "keys": keys,
        "observations": info,
        "reference": ref_info,
        "options": _options(config),
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    if config.record:
        record_result(bundle, keys, result)
    return result


def _options(config: ValidateConfig) -> dict:
    o = config.options
    if config.backend == "trt":
        return {"device": o.device, "cuda_graph": o.cuda_graph, "zero_copy": o.zero_copy}
    if config.backend == "onnxrt":
        return {"providers": list(o.providers), "optimization": o.optimization}
    return {}
