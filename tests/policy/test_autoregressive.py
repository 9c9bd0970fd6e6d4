"""The autoregressive family: action tokenizer, decoder math vs transformers, the KV-cache decode
loop vs greedy decoding, training signal, local decoder weights."""

import numpy as np
import pytest
import torch

from vla_edge.errors import CheckpointError, SpecError
from vla_edge.export.kv_graphs import torch_runners
from vla_edge.policy.autoregressive.decode import KvCacheDecoder
from vla_edge.policy.autoregressive.decoder import reference_hidden
from vla_edge.policy.autoregressive.modeling import ArVlaForActions
from vla_edge.policy.autoregressive.presets import ar_config, create_ar_checkpoint
from vla_edge.policy.autoregressive.tokens import ActionTokenizer
from vla_edge.policy.reference import default_spec
from vla_edge.policy.tokenizer import ByteTokenizer

SPEC = default_spec("tiny", "bins", chunk=2)
TOK = ByteTokenizer(32)
TEXTS = ("open the drawer", "pick up the red block now")
RNG = np.random.default_rng(0)
FEEDS = {
    "image_front": RNG.integers(0, 256, (2, 64, 64, 3), dtype=np.uint8),
    "state": RNG.normal(size=(2, 8)).astype(np.float32),
}


def model(decoder="llama", decoding="autoregressive", seed=0):
    torch.manual_seed(seed)
    return ArVlaForActions(ar_config("tiny", SPEC, decoder, decoding)).eval()


def reference_bins(m, feeds=FEEDS, texts=TEXTS):
    ids, mask = TOK(list(texts))
    t = {k: torch.from_numpy(v) for k, v in feeds.items()}
    out = m.generate_bins(
        {"front": t["image_front"]}, torch.tensor(ids), torch.tensor(mask), t["state"]
    )
    return out.numpy()


def decoder_of(m):
    runners = torch_runners(m)
    for r in runners.values():
        r.activate()
    return KvCacheDecoder(runners, m.policy_spec)


def test_action_tokenizer_bin_centres_and_vocab_slice():
    tok = ActionTokenizer([-1.0, 0.0], [1.0, 2.0], bins=256, vocab_size=515)
    acts = np.array([[[-1.0, 0.0], [0.999, 2.0]], [[0.0, 1.0], [5.0, -3.0]]])  # [B, chunk, A]
    ids = tok.encode(acts)
    assert ids.shape == (2, 4) and ids.min() >= 259 and ids.max() <= 514  # last 256 ids
    assert ids[0].tolist() == [259, 259, 259 + 255, 259 + 255]  # step-major, clipped to range
    back = tok.decode(ids, chunk=2)
    width = np.array([2.0, 2.0]) / 256
    assert np.all(np.abs(back - np.clip(acts, [-1, 0], [1, 2])) <= width / 2 + 1e-6)
    np.testing.assert_allclose(tok.from_bins(np.array([0, 255])), [-1 + 1 / 256, 2 - 1 / 256])


@pytest.mark.parametrize("decoder", ["llama", "qwen2"])
def test_explicit_decoder_matches_transformers_forward(decoder):
    m = model(decoder)
    ids, mask = TOK(list(TEXTS))
    images = {"front": torch.from_numpy(FEEDS["image_front"])}
    tail = m.bin_embeds(torch.randint(0, 256, (2, 3)))
    x, pos, valid = m._sequence(
        images, torch.tensor(ids), torch.tensor(mask), torch.from_numpy(FEEDS["state"]), tail
    )
    with torch.no_grad():
        ours, _ = m.core(x, pos, m._block_mask(valid, 0))
        theirs = reference_hidden(m.decoder, x, valid, pos)
        unmasked = reference_hidden(m.decoder, x, torch.ones_like(valid), pos)
    assert torch.allclose(ours, theirs, atol=1e-5)
    assert (unmasked - theirs).abs().max() > 1e-2  # the padding mask matters


@pytest.mark.parametrize("decoding", ["autoregressive", "parallel"])
@pytest.mark.parametrize("decoder", ["llama", "qwen2"])
def test_kv_cache_loop_matches_greedy_decode(decoder, decoding):
    m = model(decoder, decoding)
    dec = decoder_of(m)
    actions, hit = dec.run(FEEDS, TEXTS, TOK)
    np.testing.assert_array_equal(dec.last_bins, reference_bins(m))
    assert actions.shape == (2, 2, 4) and not hit
    assert len(dec.last_ms["decode_ms"]) == (7 if decoding == "autoregressive" else 0)
    _, hit = dec.run(FEEDS, TEXTS, TOK)
    assert hit and "prefix_ms" not in dec.last_ms


def test_prefix_cache_reuse_equals_fresh_decode_across_frames_and_instructions():
    m = model()
    dec = decoder_of(m)
    other = {k: v[::-1].copy() for k, v in FEEDS.items()}
    dec.run(FEEDS, TEXTS, TOK)
    dec.run(other, TEXTS, TOK)  # same instruction: stale observation/action slots masked out
    np.testing.assert_array_equal(dec.last_bins, reference_bins(m, other))
    new_texts = ("close the window", "push the button")
    dec.run(other, new_texts, TOK)  # instruction changed: the prefix is re-encoded
    np.testing.assert_array_equal(dec.last_bins, reference_bins(m, other, new_texts))


@pytest.fixture
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a shared 2-core machine: one thread is several times faster
    yield
    torch.set_num_threads(threads)


def test_teacher_forced_training_learns_the_tokens(one_thread):
    m = model().train()
    ids, mask = TOK(list(TEXTS))
    images = {"front": torch.from_numpy(FEEDS["image_front"])}
    state = torch.from_numpy(FEEDS["state"])
    target = torch.rand(2, 2, 4) * torch.tensor([0.1, 0.1, 0.1, 1.0]) - torch.tensor(
        [0.05, 0.05, 0.05, 0.0]
    )
    opt = torch.optim.Adam(m.parameters(), lr=3e-3)
    args = (images, torch.tensor(ids), torch.tensor(mask), state, target)
    first = m.compute_loss(*args).item()
    for _ in range(150):
        loss = m.compute_loss(*args)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.2 * first
    m.eval()
    np.testing.assert_array_equal(reference_bins(m), m.to_bins(target).numpy())


def test_local_decoder_weights_are_loaded(tmp_path):
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(3)
    cfg = LlamaConfig(
        vocab_size=600,
        hidden_size=32,
        intermediate_size=48,
        num_hidden_layers=1,
        num_attention_heads=4,
        num_key_value_heads=4,
    )
    LlamaForCausalLM(cfg).save_pretrained(tmp_path / "llm")
    info = create_ar_checkpoint(
        tmp_path / "ck", "tiny", "ar", SPEC, decoder_weights=tmp_path / "llm"
    )
    assert info["decoder_source"] == str((tmp_path / "llm").resolve())
    loaded = ArVlaForActions.from_pretrained(str(tmp_path / "ck"))
    ref = LlamaForCausalLM.from_pretrained(str(tmp_path / "llm"))
    assert torch.equal(
        loaded.decoder.model.layers[0].mlp.up_proj.weight, ref.model.layers[0].mlp.up_proj.weight
    )
    assert loaded.action_offset == 600 - 256
    with pytest.raises(CheckpointError, match="must be one of"):
        (tmp_path / "bert").mkdir()
        (tmp_path / "bert" / "config.json").write_text('{"model_type": "bert"}')
        create_ar_checkpoint(
            tmp_path / "ck2", "tiny", "ar", SPEC, decoder_weights=tmp_path / "bert"
        )


def test_local_decoder_brings_its_tokenizer(tmp_path):
    import shutil

    from transformers import Qwen2Config, Qwen2ForCausalLM

    from vla_edge.policy.tokenizer import minilm_dir

    sizes = dict(hidden_size=32, intermediate_size=48, num_hidden_layers=1)
    cfg = Qwen2Config(vocab_size=30522 + 256, num_attention_heads=4, num_key_value_heads=2, **sizes)
    Qwen2ForCausalLM(cfg).save_pretrained(tmp_path / "llm")
    for f in minilm_dir().iterdir():
        if f.name.startswith(("tokenizer", "vocab", "special")):
            shutil.copy(f, tmp_path / "llm" / f.name)
    info = create_ar_checkpoint(
        tmp_path / "ck", "tiny", "ar", SPEC, decoder_weights=tmp_path / "llm"
    )
    assert info["spec"]["instruction"]["tokenizer"] == "bundle"
    assert (tmp_path / "ck" / "tokenizer").is_dir() and info["decoder"] == "qwen2"


def test_spec_must_be_bins_and_vocab_must_fit():
    with pytest.raises(SpecError, match="must be 'bins'"):
        ArVlaForActions(ar_config("tiny", default_spec("tiny", "continuous")))
    with pytest.raises(SpecError, match="no room for 256 action tokens"):
        ArVlaForActions(ar_config("tiny", SPEC, **{"decoder.vocab_size": 300}))
