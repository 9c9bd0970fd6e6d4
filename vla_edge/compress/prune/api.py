"""`prune(checkpoint, data, out, PruneConfig(...))`: rank units by importance on demonstration
batches, cut the model down (structured), optionally make it 2:4 sparse, fine-tune it back
towards its parent on the demonstrations, and save an ordinary reference checkpoint."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import torch

from vla_edge.compress.distill.api import compare, split_holdout
from vla_edge.compress.distill.batches import Collator, batch_indices
from vla_edge.compress.distill.data import open_demos
from vla_edge.compress.distill.losses import DistillObjective
from vla_edge.compress.distill.student import count_parameters, load_reference
from vla_edge.compress.distill.trainer import Fit
from vla_edge.compress.prune import sparsity as sp
from vla_edge.compress.prune.config import PruneConfig
from vla_edge.compress.prune.importance import block_scores, magnitude_scores, taylor_scores
from vla_edge.compress.prune.plan import make_plan, random_scores
from vla_edge.compress.prune.search import pools_for, search_plan
from vla_edge.compress.prune.structured import PrunePlan, apply_plan, block_shapes
from vla_edge.errors import InputError


def importance_batches(demos, collate, config: PruneConfig) -> list[dict]:
    n = min(config.importance_batches, max(1, len(demos) // config.batch_size))
    return [
        collate([demos[i] for i in batch_indices(len(demos), config.batch_size, s, config.seed)])
        for s in range(n)
    ]


def unit_scores(model, batches, method: str, seed: int) -> dict:
    torch.manual_seed(seed)
    if method == "taylor":
        return taylor_scores(model, batches)
    if method == "magnitude":
        return magnitude_scores(model)
    return random_scores(model, seed)


def structured_plan(parent, batches, config: PruneConfig) -> tuple[PrunePlan, list]:
    if config.token_pool not in pools_for(parent, 1):
        raise InputError(
            f"--token-pool {config.token_pool} does not divide the patch grid "
            f"{[e.grid for e in parent.cameras.values()]}; choose one of {pools_for(parent)}"
        )
    scores = unit_scores(parent, batches, config.method, config.seed)
    blocks = block_scores(parent, batches[:4])
    if config.target_latency_ms is not None:
        return search_plan(parent, scores, blocks, config)
    plan = make_plan(
        scores,
        blocks,
        config.ratio,
        config.drop_vision_layers,
        config.drop_fusion_layers,
        config.token_pool,
        config.channel_multiple,
    )
    return plan, []


def prune(
    checkpoint: str | Path,
    data: str | Path,
    out: str | Path,
    config: PruneConfig,
    resume: bool = False,
) -> dict:
    from vla_edge.compress.prune.latency import models_latency_ms
    from vla_edge.policy.tokenizer import load_tokenizer

    out = Path(out)
    parent, tok_dir = load_reference(checkpoint)
    if parent.fusion_type != "attention":
        raise InputError(
            f"{checkpoint} has an {parent.fusion_type!r} fusion: structured pruning cuts attention "
            "heads, MLP channels and blocks of the attention fusion; shrink an MLP-fusion "
            "student with `vla-edge distill --set hidden_size=...` instead"
        )
    spec = parent.policy_spec
    train, held = split_holdout(open_demos(data, spec), 256, config.seed)
    tok = load_tokenizer(
        spec.instruction.tokenizer, spec.instruction.max_tokens, tok_dir, spec.instruction.suffix
    )
    collate = Collator(tok, spec.state_dim)
    batches = importance_batches(train, collate, config)
    model, plan, search = parent, None, []
    if config.ratio is not None or config.target_latency_ms is not None:
        plan, search = structured_plan(parent, batches, config)
        model = apply_plan(parent, plan)
    for p in parent.parameters():
        p.requires_grad_(False)
    if model is parent:
        model = _clone(parent)
    keeper = _sparsify(model, config)
    model.config.compression = [
        *(parent.config.compression or []),
        _lineage(checkpoint, config, plan),
    ]
    before = compare(model, parent, held, collate)
    recovered = _recover(model, parent, train, collate, config, out, tok_dir, keeper, resume)
    after = compare(model.eval(), parent, held, collate)
    return {
        "checkpoint": str(out),
        "method": config.method,
        "plan": None if plan is None else _plan_summary(plan, model),
        "parameters": {"parent": count_parameters(parent), "pruned": count_parameters(model)},
        "per_frame_parameters": {
            "parent": count_parameters(parent, per_frame=True),
            "pruned": count_parameters(model, per_frame=True),
        },
        "latency_ms": {
            **models_latency_ms({"parent": parent, "pruned": model}, config.threads),
            "threads": config.threads,
            "side_by_side": True,
        },
        "search": search,
        "sparsity": None if keeper is None else sp.sparsity_report(keeper.layers),
        "recover_steps": recovered,
        "held_out_before_recovery": before,
        "held_out_after_recovery": after,
    }


def _clone(model):
    import copy

    clone = copy.deepcopy(model)
    for p in clone.parameters():
        p.requires_grad_(True)
    return clone


def _sparsify(model, config: PruneConfig):
    if config.sparsity is None:
        return None
    layers = sp.sparse_linears(model, include_head=config.sparse_head)
    if not layers:
        raise InputError("no linear layer of this model has an input size divisible by 4")
    model.config.sparsity = sp.PATTERN
    return sp.MaskKeeper(layers, sp.apply_24(layers))


def _recover(model, parent, train, collate, config, out, tok_dir, keeper, resume) -> int:
    from vla_edge.policy.checkpoints import save_checkpoint

    rc = config.recover
    save = lambda m: save_checkpoint(m, out, tokenizer=tok_dir)  # noqa: E731
    if rc.train.steps == 0 or not len(train):
        save(model)
        return 0
    has_actions = train[0]["actions"] is not None
    objective = DistillObjective(
        model,
        parent.config.hidden_size,
        rc.temperature,
        rc.feature_weight,
        rc.bc_weight if has_actions else 0.0,
    )
    fit = Fit(objective.train(), parent, train, collate, rc.train, out, save, keeper, {})
    fit.run(resume=resume)
    model.eval()
    return rc.train.steps


def _lineage(checkpoint, config: PruneConfig, plan: PrunePlan | None) -> dict:
    settings = asdict(config)
    settings.pop("recover")
    return {
        "step": "prune",
        "parent": str(checkpoint),
        **settings,
        "recover_steps": config.recover.train.steps,
        "kept": None
        if plan is None
        else {"vision_layers": plan.vision_layers, "fusion_layers": plan.fusion_layers},
    }


def _plan_summary(plan: PrunePlan, model) -> dict:
    return {
        "vision_layers_kept": plan.vision_layers,
        "fusion_layers_kept": plan.fusion_layers,
        "token_pool": plan.token_pool,
        **block_shapes(model),
    }
