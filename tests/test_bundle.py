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


# --- integrity: paths stay inside, the manifest itself is hashed --------------------------------
def _edit(bundle_dir, change, rehash=True):
    """Change the manifest; rehash=True as vla-edge would (so only the edit's content is judged)."""
    from vla_edge.bundle import write_manifest

    manifest = json.loads((bundle_dir / "manifest.json").read_text())
    change(manifest)
    if rehash:
        write_manifest(bundle_dir, manifest)
    else:  # by hand: the recorded hash stays as it was
        (bundle_dir / "manifest.json").write_text(json.dumps(manifest, indent=2))


def _tree(root):
    import hashlib

    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.mark.parametrize(
    "rel", ["../../outside.onnx", "/etc/hostname", "source/../../outside.onnx"]
)
def test_paths_leaving_the_bundle_are_refused(bundle_copy, rel):
    def point_out(m):
        m["files"][rel] = m["files"].pop("policy.onnx")
        next(g for g in m["graphs"] if g["role"] == "policy")["file"] = rel

    _edit(bundle_copy, point_out)
    with pytest.raises(BundleError, match="points outside the bundle"):
        Bundle.load(bundle_copy)
    with pytest.raises(BundleError, match="points outside the bundle"):
        Bundle.load(bundle_copy, verify=False)  # checked even without the hashes


def test_a_symlink_out_of_the_bundle_is_refused(bundle_copy, tmp_path):
    outside = tmp_path / "outside.onnx"
    shutil.copyfile(bundle_copy / "policy.onnx", outside)  # same bytes: the hash would pass
    (bundle_copy / "policy.onnx").unlink()
    (bundle_copy / "policy.onnx").symlink_to(outside)
    with pytest.raises(BundleError, match=r"'policy.onnx' is a symbolic link to .*outside"):
        Bundle.load(bundle_copy)
    (bundle_copy / "policy.onnx").unlink()
    shutil.copyfile(outside, bundle_copy / "policy.onnx")
    shutil.move(bundle_copy / "source", tmp_path / "src")
    (bundle_copy / "source").symlink_to(tmp_path / "src")
    with pytest.raises(BundleError, match="symbolic link"):
        Bundle.load(bundle_copy)


def test_an_edited_spec_is_refused(bundle_copy):
    def widen(m):
        m["spec"]["action"]["high"] = [h * 10 for h in m["spec"]["action"]["high"]]

    _edit(bundle_copy, widen, rehash=False)
    with pytest.raises(BundleError, match="was edited after vla-edge wrote it.*re-export"):
        Bundle.load(bundle_copy)
    with pytest.raises(BundleError, match="was edited"):
        Bundle.load(bundle_copy, verify=False)
    _edit(bundle_copy, lambda m: m.pop("manifest_sha256"), rehash=False)
    with pytest.raises(BundleError, match="has no manifest_sha256"):
        Bundle.load(bundle_copy)


def test_update_rewrites_the_manifest_hash(bundle_copy):
    b = Bundle.load(bundle_copy)
    old = b.manifest["manifest_sha256"]
    b.update(validation={**b.manifest["validation"], "note": "recorded"})
    again = Bundle.load(bundle_copy)
    assert again.manifest["validation"]["note"] == "recorded"
    assert again.manifest["manifest_sha256"] != old
    with pytest.raises(BundleError, match="points outside"):
        b.update({"../x.plan": bundle_copy / "policy.onnx"})
    assert Bundle.load(bundle_copy).manifest == again.manifest


def _flip(path):
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("command", ["check", "info", "benchmark"])
def test_check_info_benchmark_verify_hashes(bundle_copy, command):
    from typer.testing import CliRunner

    from vla_edge.cli.main import app

    extra = (
        ["--device", "host", "--rounds", "1", "--iterations", "2"] if command == "benchmark" else []
    )
    _flip(bundle_copy / "policy.onnx")
    before = _tree(bundle_copy)
    r = CliRunner().invoke(app, [command, str(bundle_copy), *extra])
    assert r.exit_code == 1, r.output
    assert "policy.onnx does not match its sha256" in r.output and "Traceback" not in r.output
    assert _tree(bundle_copy) == before


def test_check_on_a_truncated_graph_says_so(bundle_copy, tmp_path):
    from typer.testing import CliRunner

    from vla_edge.cli.main import app

    path = bundle_copy / "policy.onnx"
    path.write_bytes(path.read_bytes()[:1000])
    r = CliRunner().invoke(app, ["check", str(bundle_copy)])
    assert r.exit_code == 1 and "policy.onnx is truncated" in r.output, r.output
    bare = tmp_path / "bare"  # a hand-made manifest that records no hashes: the graph is read
    bare.mkdir()
    shutil.copyfile(path, bare / "policy.onnx")
    (bare / "manifest.json").write_text(json.dumps({"graphs": [{"file": "policy.onnx"}]}))
    r = CliRunner().invoke(app, ["check", str(bare)])
    assert r.exit_code == 1 and "Traceback" not in r.output, r.output
    assert "policy.onnx is not a readable ONNX graph" in r.output and "truncated" in r.output


# --- manifest shape errors: clear messages, never a traceback -----------------------------------
def _graph(m):
    return next(g for g in m["graphs"] if g["role"] == "policy")


SHAPES = {
    "a JSON list": (b"[1, 2]", "must hold a JSON object .* found a JSON list"),
    "binary": (b"\x89PNG\r\n\x1a\n\x00\xff\xfe", "is not UTF-8 text .*binary or corrupted"),
    "version string": (
        lambda m: m.update(format_version="1"),
        'format_version must be an integer .* found string "1"; write 1, without quotes',
    ),
    "version bool": (lambda m: m.update(format_version=True), "must be an integer"),
    "graph without file": (
        lambda m: _graph(m).pop("file"),
        r"graphs\[1\] \(role 'policy'\) has no 'file'",
    ),
    "unknown role": (
        lambda m: _graph(m).update(role="planner"),
        'has role "planner"; known roles: instruction_encoder, policy, monolithic, vision_encoder',
    ),
    "graph not an object": (
        lambda m: m["graphs"].append("policy.onnx"),
        r"graphs\[2\] must be a JSON object",
    ),
    "files not an object": (
        lambda m: m.update(files=[]),
        "'files' must be a JSON object, found list",
    ),
    "file entry": (
        lambda m: m["files"].update({"policy.onnx": "abc"}),
        r"files\['policy.onnx'\] must be",
    ),
}


@pytest.mark.parametrize("case", list(SHAPES))
def test_manifest_shape_errors_are_clear(bundle_copy, case):
    from typer.testing import CliRunner

    from vla_edge.cli.main import app

    change, message = SHAPES[case]
    if isinstance(change, bytes):
        (bundle_copy / "manifest.json").write_bytes(change)
    else:
        _edit(bundle_copy, change)
    with pytest.raises(BundleError, match=message):
        Bundle.load(bundle_copy)
    before = _tree(bundle_copy)
    r = CliRunner().invoke(app, ["info", str(bundle_copy)])
    assert r.exit_code == 1 and "Traceback" not in r.output, r.output
    assert str(bundle_copy / "manifest.json") in r.output.replace("\n", "")
    assert _tree(bundle_copy) == before


def test_policy_load_of_none_is_a_type_error():
    from vla_edge.policy.policy import Policy

    with pytest.raises(
        TypeError, match=r"path of a bundle or checkpoint directory .* got NoneType"
    ):
        Policy.load(None)
    with pytest.raises(BundleError, match="empty path"):
        Policy.load("")
