"""Text tokenizers and bundles for tests, made with the `tokenizers` library (no downloads)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path


def word_tokenizer(directory, words=("[PAD]", "[UNK]", "open", "the", "drawer", "pick")):
    """A small WordLevel tokenizer.json made with `tokenizers` (ids < 259, so it fits the byte
    vocabulary of the tiny reference models)."""

    from tokenizers import Tokenizer, models, pre_tokenizers

    tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    directory.mkdir(parents=True, exist_ok=True)
    tok.save(str(directory / "tokenizer.json"))
    (directory / "tokenizer_config.json").write_text(json.dumps({"pad_token": "[PAD]"}))
    return directory


def bundle_with_word_tokenizer(src: Path, out: Path) -> Path:
    """A copy of the byte-tokenizer bundle `src` whose instruction uses a tokenizer.json shipped
    in the bundle (spec tokenizer "bundle"), written and hashed by BundleWriter."""
    from vla_edge.bundle import BundleWriter, read_manifest

    manifest = read_manifest(src)
    manifest["spec"]["instruction"]["tokenizer"] = "bundle"
    with BundleWriter(out) as writer:
        for rel in manifest["files"]:
            shutil.copyfile(src / rel, writer.path(rel))
        word_tokenizer(writer.path("tokenizer"))
        manifest.pop("files")
        manifest.pop("content_hash")
        writer.finish(manifest)
    return out
