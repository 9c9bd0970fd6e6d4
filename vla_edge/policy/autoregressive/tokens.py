"""The action tokenizer, as RT-2 and OpenVLA define it (numpy only: the runtime uses it).

Each action dimension is cut into `bins` uniform bins over the spec's [low, high]; an action
becomes the index of its bin, and a bin decodes to its centre, low + (i + 0.5) (high - low) /
bins (RT-2: 256 uniform bins per dimension; OpenVLA: the same over the per-dimension 1st/99th
percentiles, which is what a spec's limits are for). The bins map onto the LAST `bins` ids of
the decoder's vocabulary (OpenVLA overwrites the 256 least-used Llama tokens), so token =
vocab_size - bins + bin. A chunk [chunk, A] is emitted step-major: all A dimensions of step 0,
then step 1, ...
"""

from __future__ import annotations

import numpy as np


class ActionTokenizer:
    def __init__(self, low, high, bins: int = 256, vocab_size: int | None = None) -> None:
        self.low = np.asarray(low, dtype=np.float64)
        self.high = np.asarray(high, dtype=np.float64)
        self.bins = int(bins)
        self.offset = (vocab_size - self.bins) if vocab_size is not None else 0

    @property
    def dim(self) -> int:
        return self.low.size

    def to_bins(self, actions: np.ndarray) -> np.ndarray:
        """Actions [..., A] in physical units -> bin indices [..., A] (clipped into range)."""
        frac = (np.asarray(actions, dtype=np.float64) - self.low) / (self.high - self.low)
        return np.clip(np.floor(frac * self.bins), 0, self.bins - 1).astype(np.int64)

    def from_bins(self, bins: np.ndarray) -> np.ndarray:
        """Bin indices [..., A] -> bin centres [..., A] (float32, inside [low, high])."""
        b = np.clip(np.asarray(bins, dtype=np.int64), 0, self.bins - 1)
        width = (self.high - self.low) / self.bins
        return (self.low + (b + 0.5) * width).astype(np.float32)

    def encode(self, actions: np.ndarray) -> np.ndarray:
        """Actions [B, chunk, A] -> vocabulary token ids [B, chunk * A] (step-major)."""
        bins = self.to_bins(actions)
        return bins.reshape(bins.shape[0], -1) + self.offset

    def decode(self, tokens: np.ndarray, chunk: int) -> np.ndarray:
        """Token ids [B, chunk * A] -> actions [B, chunk, A] at bin centres."""
        bins = np.asarray(tokens, dtype=np.int64) - self.offset
        return self.from_bins(bins.reshape(bins.shape[0], chunk, self.dim))
