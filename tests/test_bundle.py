import json
import shutil

import pytest

from vla_edge.bundle import Bundle, BundleWriter
from vla_edge.errors import BundleError, OutputError


@pytest.fixture
def bundle_copy(tiny_bundle, tmp_path):
    dst = tmp_path / "b"
    shutil.copytree(tiny_bundle("bins"), dst)
    return dst


def test_manifest_lists_graphs_hashes_lineage(bundle_copy):
    b = Bundle.load(bundle_copy)
    roles = [g["role"] for g in b.graphs]
    assert roles == ["instruction_encoder", "policy"]
    assert all(len(g["sha256"]) == 64 for g in b.graphs)
    assert set(b.manifest["files"]) >= {
        "policy.onnx",
        "instruction_encoder.onnx",
        "source/model.safetensors",
    }
    assert b.manifest["lineage"]["step"] == "export"
    assert b.manifest["validation"]["parity"]["passed"]
    assert b.manifest["created_by"]["onnx"]


def test_flipped_byte_is_refused_naming_the_file(bundle_copy):
    path = bundle_copy / "policy.onnx"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(BundleError, match="policy.onnx does not match its sha256"):
        Bundle.load(bundle_copy)


def test_truncated_and_missing_files_are_refused(bundle_copy):
    path = bundle_copy / "instruction_encoder.onnx"
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(BundleError, match="instruction_encoder.onnx is truncated"):
        Bundle.load(bundle_copy)
    path.unlink()
    with pytest.raises(BundleError, match="missing instruction_encoder.onnx"):
        Bundle.load(bundle_copy)


def test_bad_manifests(bundle_copy, tmp_path):
    with pytest.raises(BundleError, match="no bundle at"):
        Bundle.load(tmp_path / "nothing")
    (bundle_copy / "manifest.json").write_text("{not json")
    with pytest.raises(BundleError, match="not valid JSON"):
        Bundle.load(bundle_copy)
    (bundle_copy / "manifest.json").write_text(json.dumps({"format_version": 99}))
    with pytest.raises(BundleError, match="format_version 99"):
        Bundle.load(bundle_copy)
    (bundle_copy / "manifest.json").unlink()
    with pytest.raises(BundleError, match="has no manifest.json"):
        Bundle.load(bundle_copy)


def test_writer_leaves_nothing_on_failure(tmp_path):
    out = tmp_path / "b"
    with pytest.raises(RuntimeError), BundleWriter(out) as w:
        w.path("policy.onnx").write_bytes(b"x")
        raise RuntimeError("export blew up")
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


def test_writer_refuses_existing_output_without_force(bundle_copy):
    with pytest.raises(OutputError, match="already exists"):
        BundleWriter(bundle_copy)


def test_update_adds_hashed_files(bundle_copy, tmp_path):
    b = Bundle.load(bundle_copy)
    plan = tmp_path / "e.plan"
    plan.write_bytes(b"engine")
    b.update({"engines/orin-fp16.plan": plan}, engines=[{"file": "engines/orin-fp16.plan"}])
    again = Bundle.load(bundle_copy)
    assert again.manifest["engines"][0]["file"] == "engines/orin-fp16.plan"
    (bundle_copy / "engines/orin-fp16.plan").write_bytes(b"Engine")
    with pytest.raises(BundleError, match="orin-fp16.plan does not match"):
        Bundle.load(bundle_copy)
