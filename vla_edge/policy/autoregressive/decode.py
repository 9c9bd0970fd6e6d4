"""The decode loop over a KV-cache bundle's graphs (numpy only; any backend's runners).

Graphs (roles) and the cache, per batch row, in fixed-size buffers [B, kv_heads, T, head_dim]
per layer and for keys and values, whose slots are laid out as the prompt is:

    slots 0 .. L-1          instruction (the prefix; padding masked)     <- `prefix` graph
    slots L .. L+N-1        vision tokens (+ the state token)            <- `prefill` graph
    slots L+N .. T-1        action tokens 1 .. A-1 (fed back)            <- `decode_step` graph

`vision_encoder` turns frames (+ state) into the N observation embeddings. `prefill` reads the
cache (prefix valid), writes the observation slots and gives the first action token;
`decode_step` takes the previous token's bin, reads the cache and gives the next. Each graph
returns only the keys and values of its new tokens (`present.*`); this loop writes them into
the buffers, so no graph copies the cache. Stale slots of the previous frame are masked out by
`attention_mask`, and positions count valid tokens only. The prefix slots are kept while the
instruction is unchanged: a new frame costs vision + prefill + (A - 1) decode steps.

A parallel (OpenVLA-OFT) bundle has no `decode_step`: its prefill gives all A tokens at once.
"""

from __future__ import annotations

import time

import numpy as np

from vla_edge.errors import BundleError
from vla_edge.policy.autoregressive.tokens import ActionTokenizer

ROLES = ("vision_encoder", "prefix", "prefill", "decode_step")
PAST, PRESENT = "past_key_values.", "present."


def present_name(past: str) -> str:
    return PRESENT + past[len(PAST) :]


class KvCacheDecoder:
    def __init__(self, runners: dict, spec) -> None:
        missing = [r for r in ROLES[:3] if r not in runners]
        if missing:
            raise BundleError(
                f"a KV-cache bundle needs graphs {list(ROLES[:3])}; missing {missing}"
            )
        self.runners, self.spec = runners, spec
        meta = {m.name: m for m in runners["prefill"].input_metadata()}
        prefix = {m.name: m for m in runners["prefix"].input_metadata()}
        self.past = [n for n in meta if n.startswith(PAST)]
        self.kv_shape = tuple(meta[self.past[0]].shape[1:])  # (kv_heads, T, head_dim)
        self.slots = int(meta["attention_mask"].shape[1])
        self.prefix_len = int(prefix["attention_mask"].shape[1])
        self.new_tokens = int(meta["position_ids"].shape[1])
        self.steps = (
            self.slots - self.prefix_len - self.new_tokens if "decode_step" in runners else 0
        )
        action = spec.action
        self.tokens = action.chunk * action.dim
        self.actions = ActionTokenizer(action.low, action.high, action.bins)
        self._key: tuple | None = None
        self._buffers: dict[str, np.ndarray] = {}
        self._mask: np.ndarray | None = None
        self._valid: np.ndarray | None = None
        self.last_ms: dict = {}
        self.last_bins: np.ndarray | None = None

    # --- the instruction prefix ----------------------------------------------------------------
    def prefix(self, texts: tuple[str, ...], tokenizer) -> bool:
        """Encode the instruction into the prefix slots unless it is cached; True on a hit."""
        if texts == self._key:
            return True
        start = time.perf_counter()
        ids, mask = tokenizer(list(texts))
        kv = self.runners["prefix"].infer({"input_ids": ids, "attention_mask": mask})
        b = ids.shape[0]
        self._buffers = {n: np.zeros((b, *self.kv_shape), np.float32) for n in self.past}
        for name in self.past:
            self._buffers[name][:, :, : self.prefix_len] = kv[present_name(name)]
        self._mask = np.zeros((b, self.slots), np.int64)
        self._mask[:, : self.prefix_len] = mask
        self._valid = mask.sum(1, keepdims=True).astype(np.int64)
        self._key = texts
        self.last_ms = {"prefix_ms": (time.perf_counter() - start) * 1e3}
        return False

    # --- one observation -----------------------------------------------------------------------
    def run(self, feeds: dict[str, np.ndarray], texts: tuple[str, ...], tokenizer):
        """Frames (+ state) feeds and instructions -> (actions [B, chunk, A], prefix cache hit)."""
        hit = self.prefix(texts, tokenizer)
        timing = {} if hit else dict(self.last_ms)
        t0 = time.perf_counter()
        obs = self.runners["vision_encoder"].infer(feeds, check=False)["observation_embeds"]
        t1 = time.perf_counter()
        bins, mask = self._prefill(obs)
        t2 = time.perf_counter()
        steps = []
        for k in range(self.steps):
            s = time.perf_counter()
            bins.append(self._step(bins[-1], mask, k))
            steps.append((time.perf_counter() - s) * 1e3)
        timing.update(
            vision_ms=(t1 - t0) * 1e3,
            prefill_ms=(t2 - t1) * 1e3,
            decode_ms=steps,
            total_ms=(time.perf_counter() - t0) * 1e3,
        )
        self.last_ms = timing
        tokens = np.concatenate(bins, axis=1)
        if tokens.shape[1] != self.tokens:
            raise BundleError(
                f"the graphs decoded {tokens.shape[1]} action tokens; the spec needs "
                f"{self.tokens} (chunk x action dimensions): re-export the bundle"
            )
        self.last_bins = tokens
        a = self.spec.action
        return self.actions.from_bins(tokens.reshape(-1, a.chunk, a.dim)), hit

    def _feeds(self, mask: np.ndarray, positions: np.ndarray) -> dict[str, np.ndarray]:
        return {"attention_mask": mask, "position_ids": positions, **self._buffers}

    def _prefill(self, obs: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
        if obs.shape[0] != self._mask.shape[0]:
            raise BundleError(
                f"{obs.shape[0]} frames but {self._mask.shape[0]} instructions were encoded"
            )
        pos = self._valid + np.arange(self.new_tokens, dtype=np.int64)[None]
        feeds = self._feeds(self._mask, pos)  # parallel: positions of the queries too
        feeds["observation_embeds"] = obs
        out = self.runners["prefill"].infer(feeds, check=False)
        mask = self._mask.copy()
        if self.steps:
            lo = self.prefix_len
            self._write(out, lo, self.new_tokens)
            mask[:, lo : lo + self.new_tokens] = 1
        return [out["action_bins"]], mask

    def _step(self, last: np.ndarray, mask: np.ndarray, k: int) -> np.ndarray:
        slot = self.prefix_len + self.new_tokens + k
        pos = self._valid + (self.new_tokens + k)
        feeds = self._feeds(mask, pos.astype(np.int64))
        feeds["action_bin"] = last
        out = self.runners["decode_step"].infer(feeds, check=False)
        self._write(out, slot, 1)
        mask[:, slot] = 1
        return out["action_bins"]

    def _write(self, out: dict[str, np.ndarray], slot: int, n: int) -> None:
        for name in self.past:
            self._buffers[name][:, :, slot : slot + n] = out[present_name(name)]
