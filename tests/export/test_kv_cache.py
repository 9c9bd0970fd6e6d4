"""KV-cache export of the autoregressive family: graph roles and static shapes, parity by decoded
tokens, the decode loop on every backend, TensorRT 10.3 check, refusals."""

import json

import numpy as np
import onnx
import pytest
from typer.testing import CliRunner

from vla_edge.bundle import Bundle
from vla_edge.cli.main import app
from vla_edge.errors import ExportError, ParityError
from vla_edge.export import ExportConfig, ParityConfig, export_checkpoint
from vla_edge.policy.autoregressive.presets import create_ar_checkpoint
from vla_edge.policy.policy import Policy

FRAME = {"front": np.random.default_rng(0).integers(0, 256, (64, 64, 3), np.uint8)}
STATE = np.linspace(-1, 1, 8).astype(np.float32)
ROLES = ["vision_encoder", "prefix", "prefill", "decode_step"]


def test_bundle_roles_static_shapes_and_token_parity(ar_bundle):
    b = Bundle.load(ar_bundle("ar")[1])
    assert [g["role"] for g in b.graphs] == ROLES and b.layout == "kv-cache"
    parity = b.manifest["validation"]["parity"]
    assert parity["passed"] and parity["tokens"]["identical_sequences"] == 1.0
    assert parity["tokens"]["samples"] >= 32 and parity["tokens"]["tokens_per_sample"] == 8
    assert parity["tokens"]["torch_graphs_identical_sequences"] == 1.0
    assert max(parity["graph_max_abs_error"].values()) < 1e-4
    dec = b.manifest["decoding"]
    assert dec["cache"]["slots"] == 32 + 17 + 8 - 1 and dec["graph_calls_per_action"] == 9
    for g in b.graphs:
        assert g["opset"] == 17
        model = onnx.load(str(b.path / g["file"]))
        for value in list(model.graph.input) + list(model.graph.output):
            dims = value.type.tensor_type.shape.dim
            assert dims[0].dim_param and all(d.dim_value > 0 for d in dims[1:]), value.name
    step = {t["name"]: t["shape"] for t in b.graph("decode_step")["inputs"]}
    assert step["past_key_values.0.key"] == ["batch", 2, 56, 8]
    out = {t["name"]: t["shape"] for t in b.graph("decode_step")["outputs"]}
    assert out["present.1.value"] == ["batch", 2, 1, 8]  # only the new token's row


@pytest.mark.parametrize("head,decoder", [("ar", "llama"), ("ar-parallel", "qwen2")])
def test_every_backend_runs_the_decode_loop(ar_bundle, head, decoder):
    path = ar_bundle(head, decoder)[1]
    with Policy.load(path) as o, Policy.load(path, backend="torch") as t:
        assert o.layout == t.layout == "autoregressive"
        a = o.predict(FRAME, "open the drawer", STATE)
        np.testing.assert_array_equal(a, t.predict(FRAME, "open the drawer", STATE))
        o.predict(FRAME, "open the drawer", STATE)
        assert (o.cache_misses, o.cache_hits) == (1, 1)
        batch = o.predict_batch(
            {"front": np.stack([FRAME["front"]] * 3)}, "open the drawer", np.stack([STATE] * 3)
        )
    assert a.shape == (2, 4) and batch.shape == (3, 2, 4)
    np.testing.assert_array_equal(batch[1], a)
    low, high = np.array([-0.05] * 3 + [0.0]), np.array([0.05] * 3 + [1.0])
    assert np.all(a >= low) and np.all(a <= high)


def test_checkpoint_runs_with_torch_backend(ar_bundle):
    ck, path = ar_bundle("ar")
    with Policy.load(ck, backend="torch") as t, Policy.load(path) as o:
        np.testing.assert_array_equal(
            t.predict(FRAME, "reach the goal", STATE), o.predict(FRAME, "reach the goal", STATE)
        )


def test_graphs_pass_the_tensorrt_check(ar_bundle):
    from vla_edge.targets import CheckOptions, check

    for head in ("ar", "ar-parallel"):
        report = check(
            ar_bundle(head, "llama" if head == "ar" else "qwen2")[1],
            CheckOptions(device="orin-agx", precision="fp16"),
        )
        assert report.ok, [p.line() for p in report.problems if p.severity == "error"]


def test_parity_fails_on_graphs_of_another_model(ar_bundle, tmp_path):
    from vla_edge.export.kv_parity import verify
    from vla_edge.policy.autoregressive.modeling import ArVlaForActions
    from vla_edge.policy.tokenizer import ByteTokenizer

    ck, path = ar_bundle("ar")
    b = Bundle.load(path)
    other_ck = tmp_path / "other"
    create_ar_checkpoint(other_ck, "tiny", "ar", b.spec, seed=7)
    other = ArVlaForActions.from_pretrained(str(other_ck)).eval()
    paths = {g["role"]: b.path / g["file"] for g in b.graphs}
    with pytest.raises(ParityError, match="differs from PyTorch's greedy decode"):
        verify(other, paths, b.spec, ByteTokenizer(32), ParityConfig())


def test_monolithic_export_is_refused(ar_bundle, tmp_path):
    with pytest.raises(ExportError, match="--monolithic does not apply"):
        export_checkpoint(ar_bundle("ar")[0], tmp_path / "m", ExportConfig(monolithic=True))
    assert not (tmp_path / "m").exists()


def test_cli_create_export_predict(tmp_path):
    runner = CliRunner()
    ck, b = tmp_path / "ck", tmp_path / "b"
    r = runner.invoke(
        app,
        ["model", "create", "--head", "ar", "--decoder", "qwen2", "--chunk", "1", "-o", str(ck)],
    )
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["export", str(ck), "-o", str(b)])
    assert r.exit_code == 0, r.output
    assert "identical token sequences: 100.00%" in r.output
    r = runner.invoke(
        app, ["predict", str(b), "--example", "--instruction", "open the drawer", "--json"]
    )
    assert r.exit_code == 0, r.output
    assert np.asarray(json.loads(r.output)["actions"]).shape == (1, 4)
    r = runner.invoke(app, ["model", "create", "--head", "ar", "-o", str(ck)])
    assert r.exit_code == 1 and "already exists" in r.output
