"""The training loop shared by distillation and pruning recovery.

- Deterministic: the batch at step s and the random draws inside it depend only on (seed, s), so
  a run resumed from its last saved state continues exactly as the uninterrupted run would.
- Data-parallel without code changes: when torch.distributed is initialized (torchrun,
  accelerate launch), each rank takes its DistributedSampler shard and the objective is wrapped
  in DistributedDataParallel; only rank 0 writes checkpoints and shows the progress bar.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from vla_edge.compress.distill.batches import batch_indices
from vla_edge.compress.distill.losses import teacher_targets
from vla_edge.errors import InputError

STATE_FILE = "distill_state.pt"


@dataclass
class TrainConfig:
    steps: int = 2000
    batch_size: int = 32
    lr: float = 5e-4
    weight_decay: float = 0.01
    warmup: int = 50
    grad_clip: float = 1.0
    seed: int = 0
    save_every: int = 250
    progress: bool = True

    def __post_init__(self) -> None:
        if self.steps < 0:
            raise InputError(f"steps must be >= 0, got {self.steps}")
        for name in ("batch_size", "save_every"):
            if getattr(self, name) < 1:
                raise InputError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.lr <= 0:
            raise InputError(f"learning rate must be > 0, got {self.lr}")

    def lr_at(self, step: int) -> float:
        """Linear warm-up, then cosine decay to 10 % of the peak."""
        if step < self.warmup:
            return self.lr * (step + 1) / self.warmup
        frac = (step - self.warmup) / max(1, self.steps - self.warmup)
        return self.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(frac, 1.0))))


def dist_info() -> tuple[int, int]:
    """(rank, world size); (0, 1) when torch.distributed is not initialized."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def _wrap(objective: torch.nn.Module, world: int) -> torch.nn.Module:
    if world == 1:
        return objective
    from torch.nn.parallel import DistributedDataParallel

    return DistributedDataParallel(objective, find_unused_parameters=True)


@dataclass
class Fit:
    """One training run. `save(student)` writes the checkpoint; `after_step(objective)` runs
    after every optimizer step (e.g. re-applying 2:4 masks)."""

    objective: torch.nn.Module
    teacher: torch.nn.Module | None
    demos: object
    collate: Callable
    config: TrainConfig
    out: Path
    save: Callable
    after_step: Callable | None = None
    teacher_cache: dict | None = None

    def run(self, resume: bool = False, until: int | None = None) -> dict:
        """Train from step 0 (or the saved step with `resume`) to `until` (default: the
        configured steps; the schedule always spans all of them), saving at the end."""
        rank, world = dist_info()
        cfg = self.config
        end = cfg.steps if until is None else min(until, cfg.steps)
        params = [p for p in self.objective.parameters() if p.requires_grad]
        opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
        start = self._resume(opt) if resume else 0
        model = _wrap(self.objective, world)
        history: list[dict] = []
        bar = _progress(cfg, start, rank)
        for step in range(start, end):
            parts = self._step(model, opt, step, rank, world)
            history.append({"step": step, **parts})
            bar.update(1)
            bar.set_postfix(loss=f"{parts['loss']:.4g}")
            if rank == 0 and ((step + 1) % cfg.save_every == 0 or step + 1 == end):
                self._checkpoint(opt, step + 1)
        bar.close()
        return {"start_step": start, "steps": cfg.steps, "history": history}

    def _step(self, model, opt, step: int, rank: int, world: int) -> dict[str, float]:
        cfg = self.config
        idx = batch_indices(len(self.demos), cfg.batch_size, step, cfg.seed, rank, world)
        batch = self.collate([self.demos[i] for i in idx])
        torch.manual_seed(cfg.seed * 1_000_003 + step * world + rank)
        targets = None
        if self.teacher is not None:
            targets = teacher_targets(self.teacher, batch, self.teacher_cache)
        for group in opt.param_groups:
            group["lr"] = cfg.lr_at(step)
        loss, parts = model(batch, targets)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.grad_clip:
            torch.nn.utils.clip_grad_norm_(self.objective.parameters(), cfg.grad_clip)
        opt.step()
        if self.after_step is not None:
            self.after_step(self.objective)
        return {"loss": float(loss.detach()), **parts}

    def _checkpoint(self, opt, step: int) -> None:
        self.save(self.objective.student)
        state = {
            "step": step,
            "objective": self.objective.state_dict(),
            "optimizer": opt.state_dict(),
            "config": asdict(self.config),
        }
        tmp = self.out / f".{STATE_FILE}.tmp"
        torch.save(state, tmp)
        tmp.replace(self.out / STATE_FILE)

    def saved_step(self) -> int:
        """The step of the saved training state in `out` (0 when there is none)."""
        state = self._saved_state()
        return 0 if state is None else int(state["step"])

    def load_weights(self) -> None:
        """Load the saved objective (student) weights, without the optimizer."""
        self._resume(None)

    def _saved_state(self) -> dict | None:
        path = self.out / STATE_FILE
        if not path.is_file():
            return None
        return torch.load(path, map_location="cpu", weights_only=True)

    def _resume(self, opt) -> int:
        state = self._saved_state()
        if state is None:
            raise InputError(
                f"--resume: no training state {self.out / STATE_FILE}; start without --resume"
            )
        self.objective.load_state_dict(state["objective"])
        if opt is not None:
            opt.load_state_dict(state["optimizer"])
        return int(state["step"])


def _progress(cfg: TrainConfig, start: int, rank: int):
    from tqdm.auto import tqdm

    return tqdm(
        total=cfg.steps,
        initial=start,
        disable=not cfg.progress or rank != 0,
        desc="train",
        dynamic_ncols=True,
    )
