"""Samples -> model inputs (torch tensors), with deterministic, shardable batch order.

`batch_indices(n, batch, step, seed, rank, world)` is a pure function of the step, so a resumed
run sees exactly the batches it would have seen, and under torch.distributed each rank takes
its own shard (DistributedSampler order, drop_last)."""

from __future__ import annotations

import numpy as np
import torch

from vla_edge.errors import DataError


class Collator:
    """Stacks samples and tokenizes instructions (with a cache: instructions repeat)."""

    def __init__(self, tokenizer, state_dim: int) -> None:
        self.tokenizer, self.state_dim = tokenizer, state_dim
        self._cache: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def tokens(self, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        for t in set(texts) - set(self._cache):
            ids, mask = self.tokenizer([t])
            self._cache[t] = (ids[0], mask[0])
        ids = np.stack([self._cache[t][0] for t in texts])
        mask = np.stack([self._cache[t][1] for t in texts])
        return torch.from_numpy(ids), torch.from_numpy(mask)

    def __call__(self, samples: list[dict]) -> dict:
        names = samples[0]["frames"].keys()
        images = {k: torch.from_numpy(np.stack([s["frames"][k] for s in samples])) for k in names}
        ids, mask = self.tokens([s["instruction"] for s in samples])
        state = None
        if self.state_dim:
            if samples[0]["state"] is None:
                raise DataError(f"the policy needs a state of {self.state_dim}; samples have none")
            state = torch.from_numpy(np.stack([s["state"] for s in samples]).astype(np.float32))
        # rollout frames carry no actions: a mixed batch marks which samples have them, so the
        # behaviour-cloning term uses those and the teacher's labels cover every sample
        actions, has = None, [s["actions"] is not None for s in samples]
        if any(has):
            shape = next(s["actions"] for s in samples if s["actions"] is not None).shape
            blank = np.zeros(shape, np.float32)
            actions = torch.from_numpy(
                np.stack([blank if s["actions"] is None else s["actions"] for s in samples]).astype(
                    np.float32
                )
            )
        return {
            "images": images,
            "input_ids": ids,
            "attention_mask": mask,
            "state": state,
            "actions": actions,
            "action_mask": None if all(has) or not any(has) else torch.tensor(has),
        }


def batch_indices(
    n: int, batch: int, step: int, seed: int, rank: int = 0, world: int = 1
) -> list[int]:
    """Indices of this rank's batch at `step`: epoch-wise permutations seeded by (seed, epoch),
    sharded across ranks like DistributedSampler(drop_last=True)."""
    from torch.utils.data import DistributedSampler

    per_rank = n // world
    if per_rank < batch:
        raise DataError(
            f"{n} samples over {world} process(es) cannot fill a batch of {batch}: "
            "lower --batch-size or record more demonstrations"
        )
    steps_per_epoch = per_rank // batch
    epoch, offset = divmod(step, steps_per_epoch)
    sampler = DistributedSampler(
        range(n), num_replicas=world, rank=rank, shuffle=True, seed=seed, drop_last=True
    )
    sampler.set_epoch(epoch)
    order = list(iter(sampler))
    return order[offset * batch : (offset + 1) * batch]
