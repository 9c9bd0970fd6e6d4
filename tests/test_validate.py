"""`vla-edge validate`: the bundle on a backend against its FP32 parent, judged by the quantize
budget, recorded per engine/backend in the manifest; `build` ends with it. TensorRT cannot run
here: its engines are stood in for by ONNX Runtime runners over the same graphs (what a
faithful engine computes), or by ones that shift the actions (an engine that went wrong)."""

from __future__ import annotations

import dataclasses
import json
import shutil
import types

import numpy as np
import pytest
from typer.testing import CliRunner

from vla_edge.backends.base import Runner
from vla_edge.backends.factory import RunnerOptions, runner_for
from vla_edge.bundle import Bundle, write_manifest
from vla_edge.cli.main import app
from vla_edge.errors import BundleError, InputError
from vla_edge.validate import ValidateConfig, engine_validation, validate

QUIET = {"say": lambda _m: None}
DEVICE = "orin-agx-64gb"


@pytest.fixture(scope="module")
def family(tmp_path_factory, tiny_bundle):
    """An FP32 export and its int8-dynamic child (lineage parent_path set), made once."""
    from vla_edge.compress.quantize import QuantizeConfig, quantize

    root = tmp_path_factory.mktemp("validate")
    fp32 = root / "fp32"
    shutil.copytree(tiny_bundle("continuous"), fp32)
    quantize(fp32, root / "int8", QuantizeConfig(precision="int8-dynamic"), lambda _m: None)
    return root


@pytest.fixture
def pair(family, tmp_path):
    """Fresh copies (validate writes into the manifest) with the lineage pointing at the copy."""
    shutil.copytree(family / "fp32", tmp_path / "fp32")
    shutil.copytree(family / "int8", tmp_path / "int8")
    manifest = json.loads((tmp_path / "int8" / "manifest.json").read_text())
    manifest["lineage"]["parent_path"] = str(tmp_path / "fp32")
    write_manifest(tmp_path / "int8", manifest)  # rehashed, as vla-edge's own updates are
    return tmp_path / "fp32", tmp_path / "int8"


def _frames(path, n=12, seed=5):
    rng = np.random.default_rng(seed)
    frames = np.zeros((n, 64, 64, 3), np.uint8)
    frames[:, 8:40, 20:52] = rng.integers(0, 256, (n, 1, 1, 3), np.uint8)
    np.savez(
        path,
        image_front=frames,
        instructions=np.asarray(["push the button"] * n),
        state=rng.standard_normal((n, 8)).astype(np.float32),
    )
    return path


def test_quantized_bundle_passes_against_its_fp32_parent_and_is_recorded(pair):
    fp32, int8 = pair
    result = validate(int8, ValidateConfig(backend="onnxrt"), **QUIET)
    assert result["passed"] and result["reasons"] == [] and result["samples"] == 32
    assert result["reference"]["kind"] == "FP32 parent on ONNX Runtime CPU"
    assert result["reference"]["content_hash"] == Bundle.load(fp32).content_hash
    recorded = Bundle.load(int8).manifest["validation"]["quantization"]["budget"]
    assert result["budget"] == recorded and recorded["spread"]  # the budget quantize recorded
    # the INT8 graph is not the FP32 one: a real, small, non-zero error is measured
    assert 0 < result["action_error"]["dx"]["p99"] < 0.01 * 2.0
    manifest = Bundle.load(int8).manifest  # still loads: hashes intact
    entry = engine_validation(manifest, "onnxrt:cpu")
    assert entry["passed"] and entry["samples"] == 32 and entry["backend"] == "onnxrt"
    assert engine_validation(manifest, "torch") is None  # never validated there


def test_a_tight_budget_fails_with_reasons_exit_1_and_is_recorded_failed(pair):
    _fp32, int8 = pair
    res = CliRunner().invoke(app, ["validate", str(int8), "--budget", "dx=1e-9", "--json"])
    assert res.exit_code == 1, res.output
    out = json.loads(res.stdout)
    assert not out["passed"] and "dx p99 error" in out["reasons"][0]
    entry = engine_validation(Bundle.load(int8).manifest, "onnxrt:cpu")
    assert entry["passed"] is False and entry["reasons"] == out["reasons"]


def test_fp32_bundle_on_torch_matches_its_own_recorded_actions(pair):
    fp32, _ = pair
    result = validate(fp32, ValidateConfig(backend="torch"), **QUIET)
    assert (
        result["passed"] and result["reference"]["kind"] == "FP32 bundle itself on ONNX Runtime CPU"
    )
    assert result["action_error"]["dx"]["max"] < 1e-5  # torch vs ONNX: float noise only
    assert engine_validation(Bundle.load(fp32).manifest, "torch")["passed"]


def test_demonstration_frames_need_the_parent_and_are_counted(pair, tmp_path):
    fp32, int8 = pair
    data = _frames(tmp_path / "demo.npz")
    result = validate(int8, ValidateConfig(data=data, samples=20, record=False), **QUIET)
    assert result["observations"]["real_frames"] == 12 and result["samples"] == 20
    assert engine_validation(Bundle.load(int8).manifest, "onnxrt:cpu") is None  # not recorded
    moved = tmp_path / "elsewhere"
    fp32.rename(moved)
    with pytest.raises(BundleError, match="--parent FP32_BUNDLE"):
        validate(int8, ValidateConfig(data=data, samples=20), **QUIET)
    # without --data, the FP32 actions the export recorded stand in for the parent
    result = validate(int8, ValidateConfig(), **QUIET)
    assert result["passed"] and result["reference"]["kind"] == "FP32 actions recorded at export"
    result = validate(int8, ValidateConfig(data=data, samples=20, parent=moved), **QUIET)
    assert result["passed"] and result["reference"]["bundle"] == str(moved)
    with pytest.raises(InputError, match="not an FP32 bundle"):
        validate(int8, ValidateConfig(parent=int8), **QUIET)


def test_bad_input_is_a_one_line_error(pair, tmp_path):
    _fp32, int8 = pair
    runner = CliRunner()
    res = runner.invoke(app, ["validate", str(int8), "--backend", "tensorflow"])
    assert res.exit_code == 1 and "--backend must be one of" in res.output
    res = runner.invoke(app, ["validate", str(int8), "--data", str(tmp_path / "nope")])
    assert res.exit_code == 1 and "does not exist" in res.output
    (int8 / "samples" / "validation.npz").unlink()
    manifest = json.loads((int8 / "manifest.json").read_text())
    del manifest["files"]["samples/validation.npz"]
    write_manifest(int8, manifest)
    res = runner.invoke(app, ["validate", str(int8)])
    assert res.exit_code == 1 and "pass --data DEMOS" in res.output
    assert "Traceback" not in res.output


# --- TensorRT, stood in for ---------------------------------------------------------------
class Shifted(Runner):
    """An ONNX Runtime runner whose actions are shifted: an engine that computes wrongly."""

    name = "shifted"

    def __init__(self, inner: Runner, shift: float) -> None:
        super().__init__()
        self.inner, self.shift = inner, shift

    def _activate_impl(self) -> None:
        self.inner.activate()

    def _input_metadata_impl(self):
        return self.inner.input_metadata()

    def _infer_impl(self, feeds):
        out = dict(self.inner.infer(feeds))
        if "actions" in out:
            out["actions"] = out["actions"] + np.float32(self.shift)
        return out

    def _deactivate_impl(self) -> None:
        self.inner.deactivate()


def _with_engines(bundle_path, tmp_path):
    """Engine entries and files, as `vla-edge build` records them (placeholder plans)."""
    bundle = Bundle.load(bundle_path)
    files, entries = {}, []
    for g in bundle.graphs:
        suffix = "" if g["role"] == "policy" else f".{g['role']}"
        rel = f"engines/{DEVICE}-fp16{suffix}.plan"
        src = tmp_path / rel.replace("/", "_")
        src.write_bytes(f"plan of {g['role']}".encode())
        files[rel] = src
        entries.append({"role": g["role"], "engine": rel, "device": DEVICE, "precision": "fp16"})
    bundle.update(add_files=files, engines=entries)
    return entries


@pytest.fixture
def stand_in(monkeypatch):
    """TensorRT engines stood in for by ONNX Runtime over the same graphs; `shift` > 0 makes
    the per-frame engine wrong. No GPU here, so the engines are asked for by device."""
    from vla_edge.backends.trt import loader, sidecar

    state = {"shift": 0.0}

    def runners(bundle, device=None, machine=None, **_kw):
        chosen = loader.choose_engines(bundle, device, machine or sidecar.Machine())
        out = {}
        for e in chosen:
            inner = runner_for(bundle.graph_path(e["role"]), options=RunnerOptions())
            frame = e["role"] == "policy"
            out[e["role"]] = Shifted(inner, state["shift"]) if frame else inner
        return out

    monkeypatch.setattr(loader, "runners_for_bundle", runners)
    monkeypatch.setattr(sidecar, "machine_info", lambda: sidecar.Machine())
    return state


def test_trt_engines_are_validated_and_recorded_per_engine_file(pair, tmp_path, stand_in):
    fp32, int8 = pair
    entries = _with_engines(fp32, tmp_path)
    options = RunnerOptions(device=DEVICE)
    result = validate(fp32, ValidateConfig(backend="trt", options=options), **QUIET)
    assert result["passed"] and sorted(result["keys"]) == sorted(e["engine"] for e in entries)
    manifest = Bundle.load(fp32).manifest
    for e in entries:
        rec = engine_validation(manifest, e["engine"])
        assert rec["passed"] and rec["engine_sha256"] == manifest["files"][e["engine"]]["sha256"]
    # a rebuilt engine (other bytes under the same name) is no longer validated
    plan = tmp_path / "rebuilt.plan"
    plan.write_bytes(b"another plan")
    Bundle.load(fp32).update(add_files={entries[0]["engine"]: plan})
    assert engine_validation(Bundle.load(fp32).manifest, entries[0]["engine"]) is None
    # an engine that computes wrongly fails the budget
    stand_in["shift"] = 0.05
    result = validate(fp32, ValidateConfig(backend="trt", options=options), **QUIET)
    assert not result["passed"] and "p99 error" in result["reasons"][0]
    policy_engine = next(e["engine"] for e in entries if e["role"] == "policy")
    assert engine_validation(Bundle.load(fp32).manifest, policy_engine)["passed"] is False
    # an engine that computes NaN is a failed validation (recorded), not a crash
    stand_in["shift"] = float("nan")
    result = validate(fp32, ValidateConfig(backend="trt", options=options), **QUIET)
    assert not result["passed"] and "non-finite action value" in result["reasons"][0]
    assert engine_validation(Bundle.load(fp32).manifest, policy_engine)["passed"] is False


def test_build_ends_with_validate_on_the_built_engines(pair, tmp_path, stand_in, monkeypatch):
    from vla_edge.backends.trt import loader

    fp32, _ = pair

    def fake_build(path, options):
        entries = _with_engines(path, tmp_path)
        side = types.SimpleNamespace(device=DEVICE, layers={}, to_dict=dict)
        return [loader.BuiltEngine(e["role"], e["engine"], side, 0.1) for e in entries]

    monkeypatch.setattr(loader, "build_bundle", fake_build)
    res = CliRunner().invoke(app, ["build", str(fp32), "--device", "orin-agx"])
    assert res.exit_code == 0, res.output
    assert "PASSED on 32 observations" in res.output and f"engines/{DEVICE}-fp16.plan" in res.output
    assert engine_validation(Bundle.load(fp32).manifest, f"engines/{DEVICE}-fp16.plan")["passed"]
    stand_in["shift"] = 0.05
    res = CliRunner().invoke(app, ["build", str(fp32), "--device", "orin-agx", "--json"])
    assert res.exit_code == 1
    out = json.loads(res.stdout)
    assert out["validation"]["passed"] is False and len(out["engines"]) == 2
    assert "built but FAILED validation against the FP32 parent" in res.stderr
    assert "Traceback" not in res.output


def test_rebuilding_an_engine_drops_its_validation(pair, tmp_path):
    from vla_edge.backends.trt.build import _record
    from vla_edge.backends.trt.loader import BuiltEngine
    from vla_edge.bench.devices import get_device

    fp32, _ = pair
    bundle = Bundle.load(fp32)
    kept = {"passed": True}
    rel = f"engines/{DEVICE}-fp16.plan"
    bundle.update(
        validation={**bundle.manifest["validation"], "engines": {rel: kept, "torch": kept}}
    )
    plan = tmp_path / "p.plan"
    plan.write_bytes(b"new")
    side = types.SimpleNamespace(layers={})
    _record(
        bundle,
        [BuiltEngine("policy", rel, side, 0.1)],
        {rel: plan},
        get_device(DEVICE),
        types.SimpleNamespace(precision="fp16"),
    )
    engines = Bundle.load(fp32).manifest["validation"]["engines"]
    assert rel not in engines and engines["torch"] == kept


def test_engine_status_names_failed_and_never_validated_engines(pair, tmp_path, stand_in):
    from vla_edge.validate import engine_status

    fp32, _ = pair
    entries = _with_engines(fp32, tmp_path)
    options = RunnerOptions(device=DEVICE)
    failed, missing = engine_status(Bundle.load(fp32), "trt", options)
    assert failed == [] and sorted(missing) == sorted(e["engine"] for e in entries)
    # ONNX Runtime CPU and torch were judged by export parity: nothing to warn about
    assert engine_status(Bundle.load(fp32), "onnxrt", RunnerOptions()) == ([], [])
    assert engine_status(Bundle.load(fp32), "torch", RunnerOptions()) == ([], [])
    validate(fp32, ValidateConfig(backend="trt", options=options), **QUIET)
    assert engine_status(Bundle.load(fp32), "trt", options) == ([], [])
    stand_in["shift"] = 0.05
    validate(fp32, ValidateConfig(backend="trt", options=options), **QUIET)
    failed, missing = engine_status(Bundle.load(fp32), "trt", options)
    assert missing == [] and failed and failed[0].startswith(f"validate (engines/{DEVICE}-fp16")


def test_a_recorded_budget_with_unknown_terms_falls_back_to_the_default(pair):
    from vla_edge.compress.quantize.config import Budget
    from vla_edge.validate import budget_for

    _, int8 = pair
    bundle = Bundle.load(int8)
    recorded = bundle.manifest["validation"]["quantization"]["budget"]
    assert budget_for(bundle).to_dict() == recorded  # what quantize recorded
    validation = json.loads(json.dumps(bundle.manifest["validation"]))
    validation["quantization"]["budget"] = {"spread": 2.0, "identical_bins": None}
    bundle.update(validation=validation)
    got = budget_for(Bundle.load(int8))
    if "spread" in {f.name for f in dataclasses.fields(Budget)}:  # the budget judge knows it
        assert got.spread == 2.0
    else:
        assert got == Budget.default(bundle.spec)
    assert budget_for(bundle, "range=0.5").range_fraction == 0.5


def test_predict_warns_on_never_validated_engines_and_refuses_failed_ones(pair, tmp_path, stand_in):
    fp32, _ = pair
    _with_engines(fp32, tmp_path)
    cli = CliRunner()
    predict = ["predict", str(fp32), "--example", "--backend", "trt", "--engine-device", DEVICE]
    res = cli.invoke(app, predict)
    assert res.exit_code == 0, res.output
    assert f"engines/{DEVICE}-fp16.plan was never validated against its FP32 parent" in res.output
    options = RunnerOptions(device=DEVICE)
    validate(fp32, ValidateConfig(backend="trt", options=options), **QUIET)
    res = cli.invoke(app, predict)
    assert res.exit_code == 0 and "warning" not in res.output  # validated, passed: quiet
    stand_in["shift"] = 0.05
    validate(fp32, ValidateConfig(backend="trt", options=options), **QUIET)
    stand_in["shift"] = 0.0
    res = cli.invoke(app, predict)
    assert res.exit_code == 1 and "failed validation against its FP32 parent" in res.output
    assert "--allow-failed" in res.output and "Traceback" not in res.output
    res = cli.invoke(app, [*predict, "--allow-failed"])
    assert res.exit_code == 0 and "is marked FAILED (validate (engines/" in res.output
    # ONNX Runtime CPU was not failed: it still runs, without a warning
    res = cli.invoke(app, ["predict", str(fp32), "--example"])
    assert res.exit_code == 0 and "warning" not in res.output


def test_a_graph_that_failed_validation_on_onnxrt_is_refused_by_run(pair):
    from vla_edge.errors import BundleError
    from vla_edge.policy.policy import Policy

    _, int8 = pair
    result = validate(int8, ValidateConfig(budget="dx=1e-9"), **QUIET)
    assert not result["passed"]
    with pytest.raises(BundleError, match=r"validate \(onnxrt:cpu\): dx p99 error"):
        Policy.load(int8)
    with Policy.load(int8, allow_failed=True) as policy:
        assert policy.failure_reasons[0].startswith("validate (onnxrt:cpu)")
    res = CliRunner().invoke(app, ["run", str(int8), "--camera", "pattern", "--cycles", "2"])
    assert res.exit_code == 1 and "failed validation" in res.output
    assert validate(int8, ValidateConfig(), **QUIET)["passed"]  # validated again: it runs
    with Policy.load(int8) as policy:
        assert policy.failure_reasons == []


def test_info_shows_each_validation_and_a_rebuilt_engine(pair, tmp_path, stand_in):
    fp32, int8 = pair
    validate(int8, ValidateConfig(), **QUIET)
    res = CliRunner().invoke(app, ["info", str(int8)])
    assert res.exit_code == 0 and "validate onnxrt:cpu: PASSED on 32 observations" in res.output
    entries = _with_engines(fp32, tmp_path)
    validate(fp32, ValidateConfig(backend="trt", options=RunnerOptions(device=DEVICE)), **QUIET)
    plan = tmp_path / "rebuilt.plan"
    plan.write_bytes(b"another plan")
    Bundle.load(fp32).update(add_files={entries[0]["engine"]: plan})
    res = CliRunner().invoke(app, ["info", str(fp32)])
    assert f"validate {entries[0]['engine']}: rebuilt since it was validated" in res.output
