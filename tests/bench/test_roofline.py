import pytest

from tests.bench import graphs
from vla_edge.bench.devices import get_device
from vla_edge.bench.estimate import JETSON_EFFICIENCY, Efficiency, predict, utilization
from vla_edge.bench.roofline import analyze
from vla_edge.errors import InputError


def only(cost, op):
    (node,) = [n for n in cost.nodes if n.op == op]
    return node


def test_matmul_flops_and_bytes_by_hand():
    cost = analyze(graphs.matmul_graph(8, 32, 16), "fp32", batch=2, target="onnxruntime")
    mm = only(cost, "MatMul")
    assert mm.flops == 2 * 2 * 8 * 32 * 16
    # x read + W read + y written, 4 bytes each
    assert mm.bytes == 4 * (2 * 8 * 32 + 32 * 16 + 2 * 8 * 16)
    assert mm.weight_bytes == 4 * 32 * 16
    assert mm.gemm == (2, 8, 32, 16)
    assert cost.weight_storage_bytes == 4 * 32 * 16


def test_gemm_flops_include_bias():
    cost = analyze(graphs.gemm_graph(4, 64, 10), "fp32", target="onnxruntime")
    assert only(cost, "Gemm").flops == 2 * 4 * 64 * 10 + 4 * 10


def test_conv_flops_and_relu_fuses():
    cost = analyze(graphs.conv_graph(), "fp32", target="onnxruntime")
    conv, relu = only(cost, "Conv"), only(cost, "Relu")
    out = 8 * 16 * 16
    assert conv.flops == 2 * out * 3 * 3 * 3 + out
    assert relu.flops == out
    assert relu.fused
    # the conv output is neither written by Conv nor read by Relu once fused
    assert conv.bytes == 4 * (3 * 16 * 16 + 8 * 3 * 3 * 3 + 8)
    assert relu.bytes == 4 * out


def test_precision_changes_bytes_not_flops():
    g = graphs.matmul_graph()
    fp32 = analyze(g, "fp32", target="tensorrt")
    fp16 = analyze(g, "fp16", target="tensorrt")
    int8 = analyze(g, "int8", target="tensorrt")
    assert fp32.flops == fp16.flops == int8.flops
    assert fp16.bytes == pytest.approx(fp32.bytes / 2)
    assert only(fp32, "MatMul").compute == "tf32"  # TensorRT's default for fp32 builds
    assert only(fp16, "MatMul").compute == "fp16"
    assert only(int8, "MatMul").compute == "int8"
    assert only(int8, "MatMul").weight_bytes == 32 * 16
    assert any("without Q/DQ" in n for n in int8.notes)


def test_qdq_graph_runs_int8_without_assumption():
    cost = analyze(graphs.qdq_matmul_graph(8, 32, 16), "int8", target="tensorrt")
    mm = only(cost, "MatMul")
    assert mm.compute == "int8"
    assert mm.weight_bytes == 32 * 16  # 1-byte weights
    assert not any("without Q/DQ" in n for n in cost.notes)
    assert all(n.op != "DequantizeLinear" for n in cost.nodes)


def test_unknown_precision_is_refused():
    with pytest.raises(InputError, match="precision"):
        analyze(graphs.matmul_graph(), "fp8")


def test_utilization_of_small_gemm_tiles():
    cost = analyze(graphs.matmul_graph(8, 32, 16), "fp16", batch=1)
    mm = only(cost, "MatMul")
    # an 8 x 16 output fills 128/16384 of one 128x128 tile, and 1 of 16 SMs
    assert utilization(mm, (128, 128), 16) == pytest.approx((8 * 16) / (128 * 128) / 16)


def test_slower_device_gives_longer_estimate():
    cost = analyze(graphs.matmul_graph(256, 1024, 1024), "fp16", batch=4)
    agx = predict(cost, get_device("orin-agx"), JETSON_EFFICIENCY, "policy")
    nano = predict(cost, get_device("orin-nano-4gb"), JETSON_EFFICIENCY, "policy")
    assert nano.latency_ms > agx.latency_ms > 0
    assert agx.kernels == 1


def test_efficiency_is_validated():
    with pytest.raises(InputError):
        Efficiency(gemm=1.5)
