import pytest

from vla_edge.bench.devices import get_device
from vla_edge.bench.fits import fits, verdict
from vla_edge.bench.roofline import GraphCost

GB = 1024**3


def cost(weights_gb, acts_gb=0.1):
    c = GraphCost("g", "fp16", 1, "tensorrt")
    c.weight_storage_bytes, c.activation_peak_bytes = weights_gb * GB, acts_gb * GB
    return {"policy": c}


def test_verdicts():
    assert verdict(1.0, 6.5) == "fits"
    assert verdict(6.0, 6.5) == "tight"
    assert verdict(7.0, 6.5) == "does not fit"


@pytest.mark.parametrize(
    "device,weights_gb,expected",
    [
        ("orin-nano-8gb", 0.5, "fits"),
        ("orin-nano-4gb", 0.5, "fits"),
        ("orin-nano-4gb", 1.6, "tight"),
        ("orin-nano-4gb", 3.0, "does not fit"),
        ("orin-nano-8gb", 3.0, "fits"),
        ("orin-nano-8gb", 6.0, "does not fit"),
        ("orin-agx-64gb", 6.0, "fits"),
    ],
)
def test_fit_per_device(device, weights_gb, expected):
    out = fits(cost(weights_gb), get_device(device))
    assert out["verdict"] == expected
    assert out["kind"] == "estimate"
    assert out["need_gb"] == pytest.approx(weights_gb + 0.1 + out["runtime_gb"])


def test_weights_and_activations_add_up_over_graphs():
    """Each graph's engine keeps its own execution context and so its own activation memory
    (the same rule `vla-edge check` applies, vla_edge.backends.trt.memory)."""
    both = {**cost(1.0, 0.2), "instruction_encoder": cost(0.5, 0.3)["policy"]}
    out = fits(both, get_device("orin-nano-8gb"))
    assert out["weights_mb"] == pytest.approx(1.5 * 1024)
    assert out["activations_mb"] == pytest.approx(0.5 * 1024)
    assert out["unsized_tensors"] == 0
