"""Graph split of the flow-matching VLM policies (SmolVLA, pi0, pi0.5): per-camera vision
encoders, the prefix graph with its per-layer KV cache, the denoise step and the action decoder,
driven by vla_edge.policy.flow; parity against LeRobot's pipeline and the single-graph bundle."""

import numpy as np
import pytest

pytest.importorskip("lerobot.policies", reason="lerobot needs Python >= 3.12 (.venv-lerobot)")
pytestmark = pytest.mark.lerobot

from tests.lerobot.common import export_json  # noqa: E402
from vla_edge.policy.policy import Policy  # noqa: E402

ROLES = ["vision_encoder.top", "prefix", "denoise_step", "action_decoder"]


@pytest.fixture(scope="module")
def smolvla(lerobot_ckpts, tmp_path_factory):
    """(split bundle, its --json report, single-graph bundle) of one tiny SmolVLA."""
    root = tmp_path_factory.mktemp("split")
    src = f"lerobot:{lerobot_ckpts('smolvla')}"
    split = export_json(src, root / "split", "--split-graphs")
    export_json(src, root / "single")
    return root / "split", split, root / "single"


def _obs(spec, n: int, seed: int):
    rng = np.random.default_rng(seed)
    frames = {
        c.name: rng.integers(0, 256, (n, c.height, c.width, 3), np.uint8) for c in spec.cameras
    }
    return frames, rng.standard_normal((n, spec.state_dim)).astype(np.float32)


def test_smolvla_split_matches_lerobot_and_the_single_graph(smolvla):
    path, out, single = smolvla
    assert [g["role"] for g in out["graphs"]] == ROLES
    for check in ("parity", "lerobot_pipeline"):
        assert out["validation"][check]["passed"]
        assert out["validation"][check]["max_abs_error"]["actions"] < 1e-4
    texts = ["pick up the red block", "close the window", "open drawer"]
    with Policy.load(path) as p, Policy.load(single) as q:
        assert p.layout == "flow-split" and q.layout == "monolithic"
        frames, state = _obs(p.spec, 3, seed=11)
        a, b = p.predict_batch(frames, texts, state), q.predict_batch(frames, texts, state)
        steps = p.decode_timing["denoise_ms"]
    assert np.abs(a - b).max() < 1e-4 and not np.allclose(a[0], a[1])
    assert len(steps) == 3  # the checkpoint's num_steps, one denoise graph call each


def test_prefix_cache_is_per_frame_language_keys_depend_on_the_image(smolvla):
    """Why the prefix cannot be kept across frames: the same instruction with another frame
    gives other language keys from the second layer on (images and text attend jointly);
    the first layer's keys (a projection of the token embeddings) stay equal."""
    path = smolvla[0]
    with Policy.load(path) as p:
        tok = p.tokenizer(["pick up the red block"])
        frames, state = _obs(p.spec, 2, seed=5)
        kv = []
        for i in range(2):
            feeds = {"input_ids": tok[0], "attention_mask": tok[1], "state": state[:1]}
            vis = p.runners["vision_encoder.top"].infer({"image_top": frames["top"][i : i + 1]})
            feeds.update(vis)
            kv.append(p.runners["prefix"].infer(feeds))
    n_img = kv[0]["prefix_mask"].shape[1] - tok[0].shape[1] - 1  # image tokens before the text
    lang = slice(n_img, n_img + int(tok[1].sum()))
    first = [k["present.0.key"][0, :, lang] for k in kv]
    second = [k["present.1.key"][0, :, lang] for k in kv]
    assert np.allclose(*first, atol=1e-6)
    assert np.abs(second[0] - second[1]).max() > 1e-3


def test_same_instruction_keeps_its_tokens_not_the_prefix(smolvla):
    with Policy.load(smolvla[0]) as p:
        frames, state = _obs(p.spec, 1, seed=2)
        one = {k: v[0] for k, v in frames.items()}
        p.predict(one, "push button", state[0])
        p.predict(one, "push button", state[0])
        assert (p.cache_hits, p.cache_misses) == (1, 1)
        assert p.decode_timing["prefix_ms"] > 0  # the prefix graph ran on the second frame too


@pytest.mark.parametrize("kind", ["pi0", "pi05"])
def test_pi_split_matches_lerobot(kind, lerobot_ckpts, tmp_path):
    """pi0: the state enters the denoise step (the suffix); pi0.5: only through the prompt,
    which the runtime writes every frame."""
    from tests.lerobot.tiny import tiny_paligemma

    with tiny_paligemma():
        out = export_json(f"lerobot:{lerobot_ckpts(kind)}", tmp_path / "b", "--split-graphs")
    assert [g["role"] for g in out["graphs"]] == ROLES
    for check in ("parity", "lerobot_pipeline"):
        assert out["validation"][check]["max_abs_error"]["actions"] < 1e-4
    step = next(g for g in out["graphs"] if g["role"] == "denoise_step")
    assert ("state" in [i["name"] for i in step["inputs"]]) == (kind == "pi0")


def test_split_refuses_a_policy_without_a_vlm(lerobot_ckpts, tmp_path):
    from typer.testing import CliRunner

    from vla_edge.cli.main import app

    src = f"lerobot:{lerobot_ckpts('act')}"
    res = CliRunner().invoke(app, ["export", src, "-o", str(tmp_path / "b"), "--split-graphs"])
    assert res.exit_code == 1 and "--split-graphs applies to" in res.output
    assert not (tmp_path / "b").exists()


def test_orin_estimate_counts_every_denoise_step(smolvla):
    """The per-frame estimate of a split bundle: vision + prefix + steps x denoise + decoder."""
    import json

    from typer.testing import CliRunner

    from vla_edge.cli.main import app

    args = ["benchmark", str(smolvla[0]), "--device", "orin-agx", "--precision", "fp32"]
    res = CliRunner().invoke(app, [*args, "--json"])
    assert res.exit_code == 0, res.output
    est = json.loads(res.stdout)["estimates"][0]
    ms = {role: g["latency_ms"] for role, g in est["graphs"].items()}
    assert set(ms) == set(ROLES)
    want = sum(ms.values()) + 2 * ms["denoise_step"]  # 3 steps
    assert abs(est["per_frame_ms"] - want) < 1e-9
