"""Behaviour cloning for the reference family on a demonstration set.

Action chunking: the target at step t is actions[t : t + chunk] of the same episode, padded
with the episode's last action. Normalization statistics come from the data and are written
into the spec (so they are baked into the exported graph). Checkpoints are written every
`save_every` steps with the optimizer and RNG state (safetensors + a weights-only torch file),
so `--resume` continues bit-for-bit; the same seed gives the same model.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from vla_edge.errors import CheckpointError, DataError

STATE_STD_FLOOR, ACTION_STD_FLOOR = 1e-2, 5e-2


@dataclass
class TrainConfig:
    preset: str = "small"
    head: str = "bins"
    steps: int = 3000
    batch: int = 64
    lr: float = 3e-4
    weight_decay: float = 1e-4
    warmup: int = 200
    chunk: int = 4
    seed: int = 0
    threads: int = 2
    shift: int = 4  # random image shift (pixels) as augmentation
    save_every: int = 500
    feature_cache: str | None = None  # frozen-encoder features (default: <out>/features)
    overrides: dict = field(default_factory=dict)  # VlaConfig fields over the preset

    def __post_init__(self) -> None:
        if self.head not in ("bins", "continuous", "flow", "ar", "ar-parallel"):
            raise DataError(
                f"--head must be bins, continuous, flow, ar or ar-parallel, got {self.head!r}"
            )
        for name in ("steps", "batch", "chunk", "threads", "save_every"):
            if getattr(self, name) < 1:
                raise DataError(f"--{name} must be >= 1, got {getattr(self, name)}")
        if not 0 < self.lr < 1:
            raise DataError(f"--lr must be in (0, 1), got {self.lr}")


def chunk_index(episode: np.ndarray, step: np.ndarray, chunk: int) -> np.ndarray:
    """[N, chunk] indices of actions t..t+chunk-1 within each step's episode (last repeated)."""
    n = len(episode)
    last = np.zeros(n, np.int64)
    ends = np.flatnonzero(np.r_[episode[1:] != episode[:-1], True])
    starts = np.r_[0, ends[:-1] + 1]
    for s, e in zip(starts, ends, strict=True):
        last[s : e + 1] = e
    idx = np.arange(n)[:, None] + np.arange(chunk)[None, :]
    return np.minimum(idx, last[:, None])


def data_spec(dataset, chunk: int, head: str):
    """The suite's PolicySpec with normalization statistics from the data."""
    from vla_edge.policy.spec import Normalization, PolicySpec
    from vla_edge.sim.env import suite_spec

    arr = dataset.arrays()
    spec = suite_spec(dataset.index["suite"], chunk, head, dataset.index["image_size"])
    norm = Normalization(
        state_mean=arr["state"].mean(0).tolist(),
        state_std=np.maximum(arr["state"].std(0), STATE_STD_FLOOR).tolist(),
        action_mean=arr["actions"].mean(0).tolist(),
        action_std=np.maximum(arr["actions"].std(0), ACTION_STD_FLOOR).tolist(),
    )
    return PolicySpec.from_dict({**spec.to_dict(), "normalization": asdict(norm)}), arr


class Batches:
    """Random minibatches as torch tensors, with random-shift image augmentation."""

    def __init__(
        self, arr: dict, tokenizer, chunk: int, batch: int, shift: int, rng, cached=None
    ) -> None:
        import torch

        # `cached`: {camera: float16 frozen-trunk features}, used instead of the frames
        self.cached = cached is not None
        source = cached if self.cached else arr["frames"]
        self.frames = {c: torch.from_numpy(np.ascontiguousarray(f)) for c, f in source.items()}
        shift = 0 if self.cached else shift
        self.state = torch.from_numpy(arr["state"])
        self.actions = torch.from_numpy(arr["actions"])
        self.episode = arr["episode"]
        self.chunks = torch.from_numpy(chunk_index(arr["episode"], arr["step"], chunk))
        # the few distinct instructions are encoded once per step, then gathered per sample
        texts = sorted(set(arr["instructions"]))
        ids, mask = tokenizer(texts)
        self.ids, self.mask = torch.from_numpy(ids), torch.from_numpy(mask)
        self.text_of_episode = np.array([texts.index(t) for t in arr["instructions"]])
        self.batch, self.shift, self.rng = batch, shift, rng

    def __call__(self):
        import torch

        i = torch.from_numpy(self.rng.integers(0, len(self.state), self.batch))
        text = torch.from_numpy(self.text_of_episode[self.episode[i.numpy()]])
        if self.cached:
            frames = {c: f[i].float() for c, f in self.frames.items()}
        else:
            frames = {c: self._shift(f[i]) if self.shift else f[i] for c, f in self.frames.items()}
        return frames, text, self.state[i], self.actions[self.chunks[i]]

    def _shift(self, x):
        import torch

        b, h, w, _ = x.shape
        s = self.shift
        padded = torch.nn.functional.pad(
            x.permute(0, 3, 1, 2).float(), (s, s, s, s), mode="replicate"
        ).to(torch.uint8)
        dx, dy = self.rng.integers(0, 2 * s + 1, (2, b))
        crops = [padded[k, :, dy[k] : dy[k] + h, dx[k] : dx[k] + w] for k in range(b)]
        return torch.stack(crops).permute(0, 2, 3, 1).contiguous()


def bc_loss(model, batches: Batches):
    """Loss on one minibatch, encoding each distinct instruction once."""
    frames, text, state, actions = batches()
    if hasattr(model, "token_logits"):  # a decoder LLM: cross-entropy of its action tokens
        ids, mask = batches.ids[text], batches.mask[text]
        return model.compute_loss(frames, ids, mask, state, actions, cached=batches.cached)
    emb = model.encode_instruction(batches.ids, batches.mask)
    feats = model.features(frames, emb[text], batches.mask[text], state, cached=batches.cached)
    return model.head.loss(feats, actions)


def _lr(step: int, cfg: TrainConfig) -> float:
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    frac = (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup)
    return cfg.lr * (0.1 + 0.9 * 0.5 * (1 + np.cos(np.pi * min(frac, 1.0))))


def train(
    data: str | Path, out: str | Path, cfg: TrainConfig, resume: bool = False, progress: bool = True
) -> dict:
    """Train (or resume) a reference model on a demo set; returns a summary."""
    import torch

    from vla_edge.outputs import check_output
    from vla_edge.policy.reference import VlaForActions, preset_config
    from vla_edge.policy.tokenizer import ByteTokenizer
    from vla_edge.sim.data import DemoDataset

    torch.set_num_threads(cfg.threads)
    # an existing vla-edge checkpoint (or a feature cache) is retrained or resumed; nothing else
    out = check_output(out, True, inputs=[data], leftovers=("features",))
    dataset = DemoDataset(data)
    ar = cfg.head.startswith("ar")  # a decoder LLM emitting action tokens (bins)
    spec, arr = data_spec(dataset, cfg.chunk, "bins" if ar else cfg.head)
    torch.manual_seed(cfg.seed)
    if ar:
        from vla_edge.policy.autoregressive.presets import training_model

        model = training_model(cfg.preset, spec, cfg.head, cfg.overrides)
    else:
        model = VlaForActions(preset_config(cfg.preset, spec, cfg.head, **cfg.overrides))
    cached = _pretrained_vision(model, dataset, arr, out, cfg, progress)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    rng = np.random.default_rng(cfg.seed)
    start, history = 0, []
    if resume and (out / "train_state.pt").is_file():
        start, history, rng = _load_state(out, model, opt, cfg)
    tokenizer = ByteTokenizer(spec.instruction.max_tokens)
    batches = Batches(arr, tokenizer, cfg.chunk, cfg.batch, cfg.shift, rng, cached)
    t0 = time.perf_counter()
    optimize(model, opt, params, batches, cfg, out, start, history, progress)
    seconds = time.perf_counter() - t0
    summary = {
        "steps": cfg.steps,
        "seconds": round(seconds, 1),
        "final_loss": float(np.mean(history[-50:])) if history else None,
        "parameters": sum(p.numel() for p in model.parameters()),
        "trainable_parameters": sum(p.numel() for p in params),
        "vision": "cached frozen-trunk features" if cached else "frames (random shift)",
        "episodes": len(dataset.episodes),
        "samples": len(arr["state"]),
    }
    (out / "train_summary.json").write_text(
        json.dumps({**summary, "config": asdict(cfg)}, indent=2)
    )
    return summary


def optimize(
    model,
    opt,
    params: list,
    batches: Batches,
    cfg: TrainConfig,
    out: Path,
    start: int = 0,
    history: list[float] | None = None,
    progress: bool = True,
    desc: str | None = None,
) -> list[float]:
    """Steps `start..cfg.steps` of behaviour cloning (warmup + cosine lr, gradient clipping at 1),
    a checkpoint every `cfg.save_every` steps and at the end; returns the loss history."""
    import torch
    from tqdm import tqdm

    history = [] if history is None else history
    model.train()
    bar = tqdm(
        range(start, cfg.steps),
        desc=desc or f"train {cfg.head}",
        disable=not progress,
        initial=start,
        total=cfg.steps,
    )
    for step in bar:
        for group in opt.param_groups:
            group["lr"] = float(_lr(step, cfg))
        loss = bc_loss(model, batches)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        history.append(loss.item())
        if step % 20 == 0:
            bar.set_postfix(loss=f"{np.mean(history[-20:]):.4f}")
        if (step + 1) % cfg.save_every == 0 or step + 1 == cfg.steps:
            _save(out, model, opt, cfg, step + 1, history, batches.rng)
    return history


def _pretrained_vision(model, dataset, arr: dict, out: Path, cfg: TrainConfig, progress: bool):
    """Load a pretrained camera encoder's weights; return its cached frozen-trunk features
    (None for encoders trained from scratch)."""
    from vla_edge.policy.reference.vision import is_pretrained_encoder, load_pretrained_vision
    from vla_edge.train.features import cached_features, has_frozen_trunk

    if not is_pretrained_encoder(getattr(model.config, "vision_encoder", "patch")):
        return None
    load_pretrained_vision(model)
    if not has_frozen_trunk(model):
        return None
    cache = Path(cfg.feature_cache) if cfg.feature_cache else out / "features"
    return cached_features(model, dataset, arr["frames"], cache, cfg.threads, progress)


def _save(out: Path, model, opt, cfg: TrainConfig, step: int, history: list, rng) -> None:
    import torch

    from vla_edge.policy.checkpoints import save_checkpoint

    was_training = model.training
    model.eval()
    save_checkpoint(model, out, keep=("features",))  # the feature cache stays
    model.train(was_training)
    state = {
        "step": step,
        "optimizer": opt.state_dict(),
        "torch_rng": torch.get_rng_state(),
        "history": torch.tensor(history),
    }
    torch.save(state, out / "train_state.pt")
    (out / "train_rng.json").write_text(json.dumps(rng.bit_generator.state))
    (out / "train_config.json").write_text(json.dumps(asdict(cfg), indent=2))


def _load_state(out: Path, model, opt, cfg: TrainConfig):
    import torch
    from safetensors.torch import load_file

    saved = json.loads((out / "train_config.json").read_text())
    if {k: v for k, v in saved.items() if k != "steps"} != {
        k: v for k, v in asdict(cfg).items() if k != "steps"
    }:
        raise CheckpointError(
            f"{out} was trained with other settings ({saved}); resume with "
            "the same options (only --steps may change)"
        )
    model.load_state_dict(load_file(out / "model.safetensors"), strict=False)
    state = torch.load(out / "train_state.pt", weights_only=True)
    opt.load_state_dict(state["optimizer"])
    torch.set_rng_state(state["torch_rng"])
    rng = np.random.default_rng()
    rng.bit_generator.state = json.loads((out / "train_rng.json").read_text())
    return int(state["step"]), state["history"].tolist(), rng
