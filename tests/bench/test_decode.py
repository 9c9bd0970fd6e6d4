"""Decoder-LLM bundles in the benchmark: per-token / per-action estimates, weight-only variants,
the analytic LLM roofline, and measured per-token timings from the benchmark worker."""

import pytest

from vla_edge.bench.decode import decode_stats, decode_table, estimate_kv_bundle, weight_only
from vla_edge.bench.devices import get_device
from vla_edge.bench.estimate import JETSON_EFFICIENCY
from vla_edge.bench.estimates import CostCache, bundle_costs
from vla_edge.bench.harness import MeasureConfig, measure
from vla_edge.bench.llm import DecoderShape, action, decode_step, shape_of
from vla_edge.bench.variants import plan_variants
from vla_edge.bundle import Bundle

AGX = get_device("orin-agx")


def test_estimate_is_vision_plus_prefill_plus_a_decode_step_per_further_token(ar_bundle):
    b = Bundle.load(ar_bundle("ar")[1])
    rec = estimate_kv_bundle(b, "fp16", AGX, JETSON_EFFICIENCY, 1, CostCache())
    d, g = rec["decode"], rec["graphs"]
    assert rec["kind"] == "estimate" and d["tokens_per_action"] == 8 and d["decode_steps"] == 7
    want = g["vision_encoder"]["latency_ms"] + g["prefill"]["latency_ms"]
    want += 7 * g["decode_step"]["latency_ms"]
    assert d["per_action_ms"] == pytest.approx(want) == rec["per_frame_ms"]
    assert d["per_token_ms"] == pytest.approx(g["decode_step"]["latency_ms"])
    assert rec["instruction_ms"] == pytest.approx(g["prefix"]["latency_ms"])
    wo = d["weight_only"]
    assert wo["w4a16"]["per_action_ms"] <= wo["w8a16"]["per_action_ms"] <= d["per_action_ms"]
    rows = decode_table({"estimates": [rec]})[2]
    assert rows[0][1] == "ESTIMATE" and rows[0][3] == "8"


def test_parallel_bundle_has_no_decode_steps(ar_bundle):
    b = Bundle.load(ar_bundle("ar-parallel", "qwen2")[1])
    d = estimate_kv_bundle(b, "fp16", AGX, JETSON_EFFICIENCY, 1, CostCache())["decode"]
    assert d["decode_steps"] == 0 and d["per_action_ms"] == pytest.approx(
        d["vision_ms"] + d["prefill_ms"]
    )


def test_weight_only_reads_gemm_weights_at_fewer_bits(ar_bundle):
    b = Bundle.load(ar_bundle("ar")[1])
    cost = bundle_costs(b, "fp16", "tensorrt", 1, CostCache())["decode_step"]
    w4, w8 = weight_only(cost, 4), weight_only(cost, 8)
    gemm = sum(n.weight_bytes for n in cost.nodes if n.cls in ("gemm", "conv"))
    assert gemm > 0.5 * cost.weight_bytes
    assert cost.weight_bytes - w4.weight_bytes == pytest.approx(0.75 * gemm)
    assert cost.bytes - w8.bytes == pytest.approx(0.5 * gemm)


def test_analytic_llm_roofline_agrees_with_the_graph_roofline(ar_bundle):
    b = Bundle.load(ar_bundle("ar")[1])
    shape = shape_of(b.manifest["decoding"]["decoder"], head_rows=256)
    graph = bundle_costs(b, "fp16", "tensorrt", 1, CostCache())["decode_step"]
    assert shape.params * 2 == pytest.approx(graph.weight_bytes, rel=0.1)


def test_a_7b_decode_step_is_memory_bound_and_scales_with_weight_bits():
    llama = DecoderShape(32, 4096, 11008, 32, 32, head_rows=32064)
    steps = {bits: decode_step(llama, 280, AGX, JETSON_EFFICIENCY, bits) for bits in (16, 8, 4)}
    assert all(s["bound"] == "memory" for s in steps.values())
    assert 1.8 < steps[16]["ms"] / steps[8]["ms"] < 2.1
    est = action(
        llama, AGX, JETSON_EFFICIENCY, prompt=280, tokens=7, vision_params=7e8, patches=256
    )
    assert est["per_action_ms"] == pytest.approx(
        est["vision_ms"] + est["prefill_ms"] + 6 * est["per_token_ms"]
    )


def test_decode_stats_percentiles():
    samples = [
        {"total_ms": 10.0 + i, "vision_ms": 1.0, "prefill_ms": 2.0, "decode_ms": [1.0, 2.0, 3.0]}
        for i in range(5)
    ]
    stats = decode_stats(samples)
    assert stats["tokens_per_action"] == 4 and stats["calls"] == 5
    assert stats["per_token_ms"]["p50"] == 2.0 and stats["per_action_ms"]["p50"] == 12.0
    assert decode_stats([]) is None


def test_benchmark_worker_measures_per_token(ar_bundle):
    path = ar_bundle("ar")[1]
    plan = plan_variants([path], ["onnxrt"])
    cfg = MeasureConfig(iterations=4, warmup=1, rounds=2, samples=2, threads=1)
    (v,) = measure(plan, cfg, Bundle.load(path).spec)
    d = v["decode"]
    assert d["calls"] == 4 and d["tokens_per_action"] == 8
    assert 0 < d["per_token_ms"]["p50"] < d["per_action_ms"]["p50"]
    assert decode_table({"measured": {"variants": [v]}})[2][0][1] == "MEASURED"
