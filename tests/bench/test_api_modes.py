"""The benchmark's modes without the hardware: a Jetson faked through its detector."""

import pytest

from vla_edge.bench import api, jetson
from vla_edge.bench.harness import MeasureConfig
from vla_edge.errors import DeviceError


def test_orin_expands_to_three_devices_and_unknown_names_fail():
    assert [p.name for p in api.targets("orin")] == api.ORIN_FAMILY
    assert [p.name for p in api.targets("orin-nano")] == ["orin-nano-8gb"]
    assert [p.name for p in api.targets("orin-nano-4gb")] == ["orin-nano-4gb"]
    with pytest.raises(DeviceError, match="unknown device"):
        api.targets("xavier")


def test_on_a_jetson_it_measures_here_and_estimates_all(tiny_bundle, monkeypatch):
    info = jetson.JetsonInfo(
        "NVIDIA Jetson Orin Nano Developer Kit", "36.4.3", 7620, "orin-nano-8gb"
    )
    monkeypatch.setattr(api.jetson, "detect", lambda root="/": info)
    state = {"nvpmodel": {"mode": "15W", "id": 1}, "clocks_locked": False, "warning": "not locked"}
    monkeypatch.setattr(api.jetson, "system_state", lambda root="/": state)
    opts = api.BenchmarkOptions(device="orin", measure=MeasureConfig(4, 1, 2, samples=2))
    report = api.benchmark([tiny_bundle("bins")], opts)
    assert report["mode"] == "jetson"
    m = report["measured"]
    assert m["kind"] == "measured" and m["title"].startswith("NVIDIA Jetson Orin Nano")
    assert m["system_state"]["nvpmodel"]["mode"] == "15W"
    assert "not locked" in report["warnings"]
    # the Jetson at hand is estimated first (its estimator error is reported for GPU runs)
    devices = [e["device"] for e in report["estimates"]]
    assert devices[0] == "orin-nano-8gb" and set(devices) == set(api.ORIN_FAMILY)
    # ORT on the Jetson's CPU is not what the TensorRT estimate models: no error row
    assert m["variants"][0]["providers"] == ["cpu"] and report["estimator_error"] == []
    assert {f["device"] for f in report["fits"]} >= {"orin-nano-4gb", "orin-nano-8gb"}
