"""One memory model for `check` and `benchmark`: same numbers, unsized tensors counted, graphs
listed out of order or with dead nodes sized as they run."""

from __future__ import annotations

from onnx import TensorProto, helper

from tests.bench import graphs
from vla_edge.bench.memory import graph_memory, live_nodes


def _chain(order=(0, 1, 2), dangling=False):
    """x[1,256] -> Relu -> Neg -> Abs -> y, nodes listed in `order`."""
    nodes = [
        helper.make_node("Relu", ["x"], ["a"], name="relu"),
        helper.make_node("Neg", ["a"], ["b"], name="neg"),
        helper.make_node("Abs", ["b"], ["y"], name="abs"),
    ]
    nodes = [nodes[i] for i in order]
    if dangling:  # what a float16 conversion leaves behind: a Cast nobody reads
        nodes.append(helper.make_node("Cast", ["a"], ["a16"], name="dead", to=TensorProto.FLOAT16))
    return graphs.model(nodes, [graphs.vi("x", [1, 256])], [graphs.vi("y", [1, 256])])


def test_activation_peak_by_hand():
    mem = graph_memory(_chain(), "fp32", target="onnxruntime")
    assert mem.activation_bytes == 2 * 256 * 4  # an input and an output alive at once
    assert mem.unsized == [] and mem.weights_bytes == 0
    assert graph_memory(_chain(), "fp16", target="tensorrt").activation_bytes == 2 * 256 * 2


def test_out_of_order_and_dead_nodes_are_sized_as_they_run():
    ref = graph_memory(_chain(), "fp32", target="onnxruntime")
    shuffled = _chain(order=(2, 0, 1), dangling=True)
    assert [n.name for n in live_nodes(shuffled.graph)] == ["relu", "neg", "abs"]
    assert graph_memory(shuffled, "fp32", target="onnxruntime").activation_bytes == (
        ref.activation_bytes
    )


def test_tensors_that_cannot_be_sized_are_counted_not_zero():
    nodes = [
        helper.make_node("Relu", ["x"], ["a"], name="relu"),
        helper.make_node("Mystery", ["a"], ["b"], name="custom", domain="com.example"),
        helper.make_node("Relu", ["b"], ["y"], name="relu2"),
    ]
    model = graphs.model(nodes, [graphs.vi("x", [1, 64])], [graphs.vi("y", None)])
    model.opset_import.append(helper.make_opsetid("com.example", 1))
    mem = graph_memory(model, "fp32", target="tensorrt")
    assert set(mem.unsized) == {"b", "y"}
    assert any("could not be sized" in n for n in mem.notes)


def test_check_and_benchmark_report_the_same_memory(tiny_bundle):
    from vla_edge.bench.devices import get_device
    from vla_edge.bench.estimates import CostCache, fits_bundle
    from vla_edge.bundle import Bundle
    from vla_edge.targets import CheckOptions, check

    path = tiny_bundle("bins")
    for precision in ("fp32", "fp16"):
        report = check(path, CheckOptions(device="orin-nano", precision=precision))
        fit = fits_bundle(Bundle.load(path), precision, get_device("orin-nano"), 1, CostCache())
        assert report.memory["weights_mb"] == round(fit["weights_mb"], 2)
        assert report.memory["activations_mb"] == round(fit["activations_mb"], 2)
        assert report.memory["unsized_tensors"] == fit["unsized_tensors"] == 0
