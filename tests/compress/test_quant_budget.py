"""The quantization gate: one judge (vla_edge.budget), a default budget relative to the parent's
own spread, no bundle written when it is missed unless kept marked failed, and a lineage that
records the frames actually used."""

from __future__ import annotations

import numpy as np
import pytest

from vla_edge.budget import DEFAULT_SPREAD, STD_FLOOR, Budget, judge
from vla_edge.bundle import Bundle, failure_reasons, mark_failed
from vla_edge.compress.quantize import QuantizeConfig, quantize
from vla_edge.errors import BundleError, ParityError, QuantizationError
from vla_edge.policy.policy import Policy

PIL = pytest.importorskip("PIL.Image")
FAST = dict(calib_size=12, holdout=12)


@pytest.fixture(scope="module")
def spec(tiny_bundle):
    return Bundle.load(tiny_bundle("bins")).spec


@pytest.fixture(scope="module")
def cont_spec(tiny_bundle):
    return Bundle.load(tiny_bundle("continuous")).spec


def _actions(spec, n=400, scale=0.1, seed=0):
    """Reference actions [n, chunk, dim] inside the range, std `scale` x half the range."""
    rng = np.random.default_rng(seed)
    a = spec.action
    mid, half = (np.asarray(a.low) + np.asarray(a.high)) / 2, np.subtract(a.high, a.low) / 2
    out = mid + scale * half * rng.standard_normal((n, a.chunk, a.dim))
    return np.clip(out, a.low, a.high)


# --- judge -----------------------------------------------------------------------------------
def test_small_error_passes_and_reports_every_dimension(cont_spec):
    ref = _actions(cont_spec)
    half = np.subtract(cont_spec.action.high, cont_spec.action.low) / 2
    cand = ref + 0.002 * half * np.random.default_rng(1).standard_normal(ref.shape)
    v = judge(ref, cand, cont_spec)
    assert v.passed and v.reasons == []
    assert set(v.dims) == set(cont_spec.action.names) and v.samples == len(ref)
    for d, h in zip(v.dims.values(), half, strict=True):
        assert 0.09 * h < d["parent_std"] < 0.11 * h and d["p99_over_std"] < 0.1
        assert d["limit"] == pytest.approx(DEFAULT_SPREAD * d["parent_std"])
    assert v.identical_bins is None  # a continuous head has no bins


def test_an_observation_blind_candidate_fails_although_it_is_small_against_the_range(cont_spec):
    """The case a range-relative budget cannot see: errors of the size of the parent's own
    variation, a small fraction of the range."""
    ref = _actions(cont_spec, scale=0.005)
    blind = np.roll(ref, len(ref) // 2, axis=0)
    rng = np.subtract(cont_spec.action.high, cont_spec.action.low)
    p99 = np.percentile(np.abs(blind - ref).reshape(-1, cont_spec.action.dim), 99, axis=0)
    assert (p99 < 0.05 * rng).all()
    assert judge(ref, blind, cont_spec, Budget(range_fraction=0.05)).passed
    v = judge(ref, blind, cont_spec)
    assert not v.passed
    assert len(v.reasons) == cont_spec.action.dim
    assert all("x the parent's std" in r for r in v.reasons)
    assert all(d["p99_over_std"] > 2 for d in v.dims.values())


def test_bins_are_judged_too(spec):
    ref = _actions(spec, scale=0.3)
    cand = ref.copy()
    cand[: len(ref) // 4, 0, 0] = spec.action.high[0]  # a quarter of the steps flip one bin
    v = judge(ref, cand, spec, Budget(identical_bins=0.99))
    assert not v.passed and v.identical_bins < 0.99
    assert v.reasons == [f"identical bins {v.identical_bins:.2%} < 99.00%"]
    assert judge(ref, ref, spec).identical_bins == 1.0


def test_non_finite_candidate_fails(spec):
    ref = _actions(spec)
    cand = ref.copy()
    cand[3, 1, 2] = np.nan
    v = judge(ref, cand, spec, Budget(spread=1e6))
    assert not v.passed and "1 of" in v.reasons[0] and "NaN or inf" in v.reasons[0]


def test_constant_dimension_uses_the_floor(spec):
    ref = _actions(spec)
    ref[..., 3] = 0.5  # the parent never varies this dimension
    v = judge(ref, ref, spec)
    rng = spec.action.high[3] - spec.action.low[3]
    assert v.passed and v.dims[spec.action.names[3]]["parent_std"] == pytest.approx(STD_FLOOR * rng)


@pytest.mark.parametrize(
    "ref_shape, cand_shape", [((10, 4, 4), (10, 4, 3)), ((10, 4, 4), (9, 4, 4)), ((4,), (4,))]
)
def test_judge_refuses_mismatched_shapes(spec, ref_shape, cand_shape):
    with pytest.raises(QuantizationError, match=r"one shape \[N, \.\.\., 4\]"):
        judge(np.zeros(ref_shape), np.zeros(cand_shape), spec)


def test_judge_refuses_a_broken_parent(spec):
    ref = _actions(spec)
    ref[0, 0, 0] = np.inf
    with pytest.raises(QuantizationError, match="the parent itself is broken"):
        judge(ref, ref, spec)


# --- Budget syntax ---------------------------------------------------------------------------
def test_budget_parse_terms(spec):
    b = Budget.parse(" spread=0.5 , bins=0.95,dx=0.002,range=0.01", spec)
    assert (b.spread, b.identical_bins, b.error, b.range_fraction) == (
        0.5,
        0.95,
        {"dx": 0.002},
        0.01,
    )
    assert b.describe() == "spread<=0.5,bins>=0.95,dx<=0.002,range<=0.01"


@pytest.mark.parametrize(
    "text, match",
    [
        ("", "is empty; write it as comma-separated key=value"),
        ("   ", "is empty"),
        ("spread=0.5,", "has an empty term"),
        (",", "has an empty term"),
        ("spread", "not key=value"),
        ("=0.5", "not key=value"),
        ("spread=abc", "'abc' is not a number"),
        ("spread=nan", "finite number"),
        ("dx=inf", "finite number"),
        ("spread=0", "positive multiple"),
        ("spread=-1", "positive multiple"),
        ("bins=1.5", r"fraction in \[0, 1\]"),
        ("range=1", r"fraction of the action range in \(0, 1\)"),
        ("bins=0.9,bins=0.95", "sets 'bins' twice"),
        ("wobble=1", "unknown budget term 'wobble'"),
    ],
)
def test_budget_parse_errors_say_the_syntax(spec, text, match):
    with pytest.raises(QuantizationError, match=match):
        Budget.parse(text, spec)


def test_default_budget(spec, cont_spec):
    assert Budget.default(spec).identical_bins is not None
    assert Budget.default(spec).spread == DEFAULT_SPREAD
    assert Budget.default(cont_spec).identical_bins is None


# --- failure marks ---------------------------------------------------------------------------
def test_failure_reasons_of_a_manifest():
    m: dict = {}
    assert failure_reasons(m) == []
    mark_failed(m, "quantize", ["dx p99 error too large"])
    mark_failed(m, "validate", ["engine differs"])
    mark_failed(m, "quantize", ["bins 50% < 99%"])  # a step replaces its own entry
    assert failure_reasons(m) == ["validate: engine differs", "quantize: bins 50% < 99%"]
    assert failure_reasons({"failed": {"step": "validate", "reasons": ["x"]}}) == ["validate: x"]


# --- quantize --------------------------------------------------------------------------------
def test_a_missed_budget_writes_nothing(tiny_bundle, tmp_path, spec):
    cfg = QuantizeConfig("int8-dynamic", budget=Budget.parse("spread=0.001,bins=1", spec), **FAST)
    with pytest.raises(ParityError, match=r"misses the budget spread<=0.001.*--keep-failed"):
        quantize(tiny_bundle("bins"), tmp_path / "q", cfg)
    assert list(tmp_path.iterdir()) == []  # no bundle, no partial directory


@pytest.fixture(scope="module")
def failed_bundle(tiny_bundle, artifacts, spec):
    out = artifacts / "quant-kept-failed"
    if not out.exists():
        budget = Budget.parse("spread=0.001,bins=1", spec)
        cfg = QuantizeConfig("int8-dynamic", budget=budget, keep_failed=True, **FAST)
        quantize(tiny_bundle("bins"), out, cfg)
    return out


def test_keep_failed_marks_the_bundle_and_inference_refuses_it(failed_bundle):
    b = Bundle.load(failed_bundle)  # a valid bundle: every hash checks
    assert b.manifest["failed"][0]["step"] == "quantize"
    reasons = b.failure_reasons
    assert reasons and all(r.startswith("quantize: ") for r in reasons)
    q = b.manifest["validation"]["quantization"]
    assert not q["passed"] and q["violations"] and q["per_dimension"]
    with pytest.raises(BundleError, match=r"marked failed \(quantize: .*--allow-failed"):
        Policy.load(failed_bundle)
    with Policy.load(failed_bundle, allow_failed=True) as policy:
        assert policy.failure_reasons == reasons
        frames = {c.name: np.zeros((c.height, c.width, 3), np.uint8) for c in policy.spec.cameras}
        state = np.zeros(policy.spec.state_dim, np.float32)
        assert policy.predict(frames, "open the drawer", state).shape == (4, 4)


def test_default_budget_is_recorded_and_met_by_fp16(tiny_bundle, tmp_path):
    out = quantize(tiny_bundle("continuous"), tmp_path / "h", QuantizeConfig("fp16", **FAST))
    q = out.manifest["validation"]["quantization"]
    assert q["passed"] and not q["budget_explicit"] and "failed" not in out.manifest
    assert q["budget"] == Budget.default(out.spec).to_dict()
    assert all(d["p99_over_std"] < DEFAULT_SPREAD for d in q["per_dimension"].values())


def _calib_dir(root, n):
    (root / "front").mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(n):
        PIL.fromarray(rng.integers(0, 256, (64, 64, 3), np.uint8)).save(root / "front" / f"{i}.png")
    (root / "instructions.txt").write_text("open the drawer\n")
    return root


def test_lineage_records_the_frames_actually_used(tiny_bundle, tmp_path):
    data = _calib_dir(tmp_path / "c", 24)
    said = []
    cfg = QuantizeConfig("fp16", calib=data, budget=Budget(spread=1e6))  # asks 128 + 64
    out = quantize(tiny_bundle("bins"), tmp_path / "q", cfg, progress=said.append)
    settings = out.manifest["lineage"]["settings"]
    held = out.manifest["validation"]["quantization"]["heldout"]
    assert (settings["calib_size"], settings["holdout"]) == (18, 6)
    assert (held["calibration_samples"], held["heldout_samples"]) == (18, 6)
    assert settings["requested"] == {"calib_size": 128, "holdout": 64}
    assert any("24 frames, fewer than the 192 asked" in m for m in said)


def test_lineage_has_no_requested_block_when_enough_frames(tiny_bundle, tmp_path):
    cfg = QuantizeConfig("fp16", budget=Budget(spread=1e6), **FAST)
    settings = quantize(tiny_bundle("bins"), tmp_path / "q", cfg).manifest["lineage"]["settings"]
    assert (settings["calib_size"], settings["holdout"]) == (12, 12) and "requested" not in settings


def test_removing_the_mark_by_hand_is_refused(failed_bundle, tmp_path):
    """The mark is part of the hashed manifest: deleting it to ship the bundle does not work."""
    import json
    import shutil

    copy = tmp_path / "b"
    shutil.copytree(failed_bundle, copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    del manifest["failed"]
    (copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match="edited after vla-edge wrote it"):
        Policy.load(copy)
