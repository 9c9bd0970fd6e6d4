"""Autoregressive teacher -> parallel student (the OpenVLA-OFT idea): the student keeps the
teacher's vision tower and decoder, replaces the A fed-back action tokens with A learned action
queries that attend to the prompt and to each other, and emits every action token in one pass
(no decode steps: a frame costs vision + one prefill instead of vision + prefill + A - 1 steps).

Targets are the teacher's own behaviour, not only the demonstrations: the teacher's greedy
tokens on every training frame are decoded once (its KV-cache decode loop in PyTorch), and each
step the teacher, teacher-forced along those tokens, gives its distributions at every action
position (exactly the ones its greedy decode argmaxes). The student matches them softened by
`temperature` (KL x T^2), plus `bc_weight` x cross-entropy on the demonstrated actions' bins.
The student starts from the teacher's weights (the queries from the teacher's embedding of the
middle bin). Held-out frames at the end of each task's episodes measure token agreement with
the teacher's greedy decode before and after.

A teacher whose cameras are a pretrained encoder with a frozen trunk (EfficientNet-Lite0) is
labelled and distilled on the trunk's features, computed once per frame and cached
(`vla_edge.train.features`, the cache training uses): the trunk is shared and frozen in both
models, so this gives the same logits as frames, at a fraction of the cost.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from vla_edge.errors import CheckpointError, InputError


@dataclass
class ParallelDistillConfig:
    steps: int = 2000
    batch: int = 64
    lr: float = 5e-4
    warmup: int = 100
    temperature: float = 2.0
    bc_weight: float = 0.3
    holdout: int = 256
    seed: int = 0
    threads: int = 1
    label_batch: int = 128
    feature_cache: str | None = None  # frozen-trunk features (default: <out>/features)

    def __post_init__(self) -> None:
        for name in ("steps", "batch", "threads", "label_batch"):
            if getattr(self, name) < 1:
                raise InputError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.temperature <= 0 or not 0 <= self.bc_weight <= 1:
            raise InputError("temperature must be > 0 and bc_weight in [0, 1]")


def student_from(teacher):
    """The parallel student: the teacher's config with decoding="parallel", its weights."""
    import torch

    from vla_edge.policy.autoregressive.configuration import ArVlaConfig
    from vla_edge.policy.autoregressive.modeling import ArVlaForActions

    if teacher.config.decoding != "autoregressive":
        raise CheckpointError("the teacher must decode autoregressively (--head ar)")
    cfg = ArVlaConfig.from_dict({**teacher.config.to_dict(), "decoding": "parallel"})
    student = ArVlaForActions(cfg)
    missing, unexpected = student.load_state_dict(teacher.state_dict(), strict=False)
    if unexpected or [m for m in missing if m != "action_queries"]:
        raise CheckpointError(f"student does not fit the teacher: {missing} {unexpected}")
    with torch.no_grad():
        middle = torch.full((1,), teacher.config.bins // 2, dtype=torch.long)
        student.action_queries.copy_(teacher.bin_embeds(middle).expand_as(student.action_queries))
        student.action_queries.add_(torch.randn_like(student.action_queries) * 0.02)
    return student


class _CachedVision:
    """The vision graph's runner on frozen-trunk features instead of frames."""

    def __init__(self, model) -> None:
        self.model = model

    def infer(self, feeds: dict, check: bool = False) -> dict:
        import torch

        m = self.model
        images = {
            c: torch.from_numpy(feeds[f"image_{c}"]).float() for c in m.policy_spec.camera_names
        }
        state = torch.from_numpy(feeds["state"]) if "state" in feeds else None
        with torch.no_grad():
            return {"observation_embeds": m.observation_embeds(images, state, cached=True).numpy()}


def greedy_labels(
    teacher, arr: dict, tokenizer, rows: np.ndarray, batch: int, cached=None
) -> np.ndarray:
    """The teacher's greedy action bins [N, A] on the frames `rows` (its KV-cache loop);
    `cached`: {camera: frozen-trunk features}, read instead of the frames."""
    from vla_edge.export.kv_graphs import torch_runners
    from vla_edge.policy.autoregressive.decode import KvCacheDecoder

    runners = torch_runners(teacher)
    for r in runners.values():
        r.activate()
    if cached is not None:
        runners["vision_encoder"] = _CachedVision(teacher)
    dec = KvCacheDecoder(runners, teacher.policy_spec)
    source = arr["frames"] if cached is None else cached
    out = []
    for lo in range(0, len(rows), batch):
        idx = rows[lo : lo + batch]
        feeds = {f"image_{c}": np.ascontiguousarray(f[idx]) for c, f in source.items()}
        if teacher.policy_spec.state_dim:
            feeds["state"] = np.ascontiguousarray(arr["state"][idx], dtype=np.float32)
        texts = tuple(str(arr["instructions"][e]) for e in arr["episode"][idx])
        dec.run(feeds, texts, tokenizer)
        out.append(dec.last_bins)
    return np.concatenate(out)


def split(arr: dict, holdout: int) -> tuple[np.ndarray, np.ndarray]:
    """Training rows and held-out rows (frames of evenly spaced episodes; at most a fifth of
    the data)."""
    holdout = min(holdout, len(arr["episode"]) // 5)
    episodes = np.unique(arr["episode"])
    every = max(1, len(episodes) // max(1, holdout // 8))
    held = np.isin(arr["episode"], episodes[::every][: max(1, holdout // 8)])
    rows = np.arange(len(arr["episode"]))
    test = rows[held][:holdout] if holdout else rows[:0]
    return rows[~np.isin(rows, test)], test


def agreement(
    student, teacher_bins: np.ndarray, arr: dict, tokenizer, rows, batch=128, cached=None
) -> dict:
    """Identical tokens / sequences of the student's one-pass bins vs the teacher's greedy."""
    import torch

    source = arr["frames"] if cached is None else cached
    out = []
    with torch.no_grad():
        for lo in range(0, len(rows), batch):
            idx = rows[lo : lo + batch]
            images = {c: torch.from_numpy(np.asarray(f[idx])) for c, f in source.items()}
            if cached is not None:
                images = {c: x.float() for c, x in images.items()}
            texts = [str(arr["instructions"][e]) for e in arr["episode"][idx]]
            ids, mask = (torch.from_numpy(t) for t in tokenizer(texts))
            state = torch.from_numpy(arr["state"][idx].astype(np.float32))
            bins = student.generate_bins(images, ids, mask, state, cached=cached is not None)
            out.append(bins.numpy())
    bins = np.concatenate(out)
    same = bins == teacher_bins
    return {
        "frames": int(len(rows)),
        "identical_tokens": float(same.mean()),
        "identical_sequences": float(same.all(axis=1).mean()),
    }


def distill_parallel(teacher_path, data, out, cfg: ParallelDistillConfig, progress=True) -> dict:
    """Train the parallel student of an autoregressive teacher checkpoint on a demo set."""
    import torch
    import torch.nn.functional as F
    from tqdm import tqdm

    from vla_edge.backends.torch import ModelFromCheckpoint
    from vla_edge.policy.checkpoints import save_checkpoint
    from vla_edge.policy.tokenizer import ByteTokenizer
    from vla_edge.sim.data import DemoDataset
    from vla_edge.train.bc import _lr

    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    teacher = ModelFromCheckpoint(Path(teacher_path))().eval()
    student = student_from(teacher)
    spec = teacher.policy_spec
    if spec.instruction.tokenizer != "byte":
        raise InputError("parallel distillation reads byte-tokenized demonstrations only")
    tok = ByteTokenizer(spec.instruction.max_tokens)
    dataset = DemoDataset(data)
    arr = dataset.arrays()
    train_rows, test_rows = split(arr, cfg.holdout)
    t0 = time.perf_counter()
    cached = _trunk_features(teacher, dataset, arr, Path(out), cfg, progress)
    every = np.arange(len(arr["episode"]))
    labels = greedy_labels(teacher, arr, tok, every, cfg.label_batch, cached)
    label_s = time.perf_counter() - t0
    before = agreement(student, labels[test_rows], arr, tok, test_rows, cached=cached)
    rng = np.random.default_rng(cfg.seed)
    batches = _Sampler(arr, train_rows, labels, tok, spec.action.chunk, cfg.batch, rng, cached)
    use_cache = cached is not None
    params = [p for p in student.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=1e-4)
    student.train()
    history, temp = [], cfg.temperature
    for step in tqdm(range(cfg.steps), desc="distill parallel", disable=not progress):
        for group in opt.param_groups:
            group["lr"] = float(_lr(step, cfg))
        frames, ids, mask, state, actions, greedy = batches()
        ids, mask = student.trim(ids, mask)
        with torch.no_grad():
            target = teacher.token_logits(frames, ids, mask, state, greedy, cached=use_cache)
        logits = student.token_logits(frames, ids, mask, state, cached=use_cache)
        kd = (
            F.kl_div(
                F.log_softmax(logits / temp, -1),
                F.softmax(target / temp, -1),
                reduction="batchmean",
            )
            * temp**2
            / logits.shape[1]
        )
        ce = F.cross_entropy(
            logits.reshape(-1, logits.shape[-1]), student.to_bins(actions).reshape(-1)
        )
        loss = (1 - cfg.bc_weight) * kd + cfg.bc_weight * ce
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        history.append(loss.item())
    student.eval()
    after = agreement(student, labels[test_rows], arr, tok, test_rows, cached=cached)
    save_checkpoint(student, Path(out), keep=("features",))  # the feature cache stays
    summary = {
        "checkpoint": str(out),
        "teacher": str(teacher_path),
        "steps": cfg.steps,
        "seconds": round(time.perf_counter() - t0, 1),
        "label_seconds": round(label_s, 1),
        "final_loss": float(np.mean(history[-50:])),
        "train_frames": int(len(train_rows)),
        "vision": "cached frozen-trunk features" if use_cache else "frames",
        "held_out_before": before,
        "held_out_after": after,
        "config": asdict(cfg),
    }
    (Path(out) / "distill_summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def _trunk_features(teacher, dataset, arr: dict, out: Path, cfg: ParallelDistillConfig, progress):
    """{camera: cached frozen-trunk features} of a teacher with a pretrained frozen trunk, else
    None (the frames are read)."""
    from vla_edge.train.features import cached_features, has_frozen_trunk

    if not has_frozen_trunk(teacher):
        return None
    cache = Path(cfg.feature_cache) if cfg.feature_cache else out / "features"
    return cached_features(teacher, dataset, arr["frames"], cache, cfg.threads, progress)


class _Sampler:
    """Random minibatches of training rows: frames, instruction index, state, the demonstrated
    action chunk and the teacher's greedy bins (no augmentation: the teacher labels the frame
    as it is)."""

    def __init__(
        self,
        arr: dict,
        rows: np.ndarray,
        labels: np.ndarray,
        tok,
        chunk: int,
        batch: int,
        rng,
        cached=None,
    ) -> None:
        import torch

        from vla_edge.train.bc import chunk_index

        self.rows, self.labels, self.batch, self.rng = rows, labels, batch, rng
        self.cached = cached is not None
        source = arr["frames"] if cached is None else cached
        self.frames = {c: torch.from_numpy(np.ascontiguousarray(f)) for c, f in source.items()}
        self.state = torch.from_numpy(arr["state"].astype(np.float32))
        self.actions = torch.from_numpy(arr["actions"])
        self.chunks = torch.from_numpy(chunk_index(arr["episode"], arr["step"], chunk))
        texts = sorted(set(arr["instructions"]))
        self.ids, self.mask = (torch.from_numpy(t) for t in tok(texts))
        self.text = np.array([texts.index(t) for t in arr["instructions"]])[arr["episode"]]

    def __call__(self):
        import torch

        k = self.rng.integers(0, len(self.rows), self.batch)
        i = torch.from_numpy(self.rows[k])
        t = torch.from_numpy(self.text[self.rows[k]])
        frames = {c: f[i].float() if self.cached else f[i] for c, f in self.frames.items()}
        greedy = torch.from_numpy(self.labels[self.rows[k]])
        return (
            frames,
            self.ids[t],
            self.mask[t],
            self.state[i],
            self.actions[self.chunks[i]],
            greedy,
        )
