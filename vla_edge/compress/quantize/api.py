"""`quantize(bundle, out, QuantizeConfig(...))`: a verified quantized bundle with lineage.

Every run ends with a comparison against the parent bundle on held-out observations (real
frames when calibration data is given): action error in physical units, identical bins, and the
budget (the one given, else `Budget.default`: p99 error per dimension against the parent's own
spread on those frames, plus identical bins for bins heads; vla_edge.budget.judge). A missed
budget raises ParityError and writes nothing, unless `keep_failed`: then the bundle is written
marked failed in its manifest (`failed`), which inference refuses without `allow_failed`.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable
from pathlib import Path

from vla_edge.bundle import Bundle, BundleWriter
from vla_edge.compress.quantize import mixed as mixed_mod
from vla_edge.compress.quantize import sensitivity as sens
from vla_edge.compress.quantize.build import PreparedGraph, layer_summary, size_bytes
from vla_edge.compress.quantize.calibration import load_calibration
from vla_edge.compress.quantize.config import Budget, QuantizeConfig
from vla_edge.compress.quantize.evaluate import EMBEDDING, Evaluator, batches, run_graph
from vla_edge.compress.quantize.report import Outcome, write_bundle
from vla_edge.data.lerobot_dataset import split_source
from vla_edge.errors import ParityError, QuantizationError

log = logging.getLogger(__name__)
CALIB_BATCH = 8


def quantize(
    bundle: str | Path | Bundle,
    out: str | Path,
    config: QuantizeConfig | None = None,
    progress: Callable[[str], None] | None = None,
) -> Bundle:
    config = config or QuantizeConfig()
    parent = bundle if isinstance(bundle, Bundle) else Bundle.load(bundle)
    _check_parent(parent)
    say = progress or (lambda msg: log.info(msg))
    inputs = (parent.path, None if config.calib is None else calib_path(config.calib))
    writer = BundleWriter(out, force=config.force, inputs=inputs)
    with writer, tempfile.TemporaryDirectory() as tmp:
        job = _Job(parent, config, Path(tmp), say)
        outcome = job.run()
        path = write_bundle(writer, parent, config, outcome, Path(out).name)
    result = Bundle.load(path)
    if config.eval_suite:
        from vla_edge.compress.quantize.taskgate import record_task

        record_task(result, parent, config, say)
    return result


def _check_parent(parent: Bundle) -> None:
    precisions = {g.get("precision", "fp32") for g in parent.graphs}
    if precisions != {"fp32"}:
        raise QuantizationError(
            f"bundle {parent.path} is already {sorted(precisions)}: quantize the FP32 bundle "
            f"it came from ({parent.manifest.get('lineage', {}).get('parent_path', 'its parent')})"
        )


class _Job:
    def __init__(self, parent: Bundle, config: QuantizeConfig, work: Path, say) -> None:
        from vla_edge.policy.tokenizer import load_tokenizer

        self.parent, self.config, self.work, self.say = parent, config, work, say
        spec = parent.spec
        self.tokenizer = load_tokenizer(
            spec.instruction.tokenizer,
            spec.instruction.max_tokens,
            parent.tokenizer_dir,
            spec.instruction.suffix,
        )
        total = config.calib_size + config.holdout
        cameras = (parent.manifest.get("lerobot") or {}).get("cameras")
        data = load_calibration(config.calib, spec, total, config.seed, cameras)
        self.calib, held = data.split(config.holdout, config.calib_size, config.seed)
        say(f"calibration: {len(self.calib)} samples, held out: {len(held)} ({data.source})")
        if (len(self.calib), len(held)) != (config.calib_size, config.holdout):
            short = (
                f"{data.source} has {len(data)} frames, fewer than the {total} asked "
                f"(--calib-size {config.calib_size} + --holdout {config.holdout}): calibrating "
                f"on {len(self.calib)} and validating on {len(held)}; record more frames for a "
                "surer verdict"
            )
            log.warning(short)
            say("warning: " + short)
        self.evaluator = Evaluator(parent, held, self.tokenizer)
        self.budget = config.budget or Budget.default(spec)
        self.outcome = Outcome(config=config, calibration=_calib_info(data, self.calib, held))

    @property
    def frame_role(self) -> str:
        return "monolithic" if self.parent.layout == "monolithic" else "policy"

    def run(self) -> Outcome:
        o = self.outcome
        if self.parent.layout == "split":
            o.graphs["instruction_encoder"] = self._encoder()
        o.graphs[self.frame_role] = self._frame_graph()
        o.metrics = self.evaluator.evaluate(o.graphs, label=self.config.precision)
        o.verdict = o.metrics.verdict(self.budget, self.parent.spec)
        o.violations = o.verdict.reasons
        o.metrics.parity["passed"] = not o.violations  # judged by the budget, not export's
        o.metrics.parity["judged_by"] = "quantization budget"  # bit-exact tolerances
        o.budget = self.budget
        self._gate(o)
        o.cost = self._cost(o)
        return o

    def _gate(self, o: Outcome) -> None:
        if not o.violations:
            return
        which = "" if self.config.budget is not None else " (the default budget)"
        msg = (
            f"{self.config.precision} misses the budget {self.budget.describe()}{which} on "
            f"{self.evaluator.samples} held-out samples: {'; '.join(o.violations)}. Try "
            "`--precision mixed` (returns the most sensitive layers to float), real calibration "
            "frames (--calib), or another --calib-method"
        )
        if not self.config.keep_failed:
            raise ParityError(
                msg + "; nothing was written (--keep-failed writes it, marked failed)"
            )
        msg += "; written marked FAILED because of --keep-failed"
        log.warning(msg)
        self.say("warning: " + msg)

    # --- graphs -----------------------------------------------------------------------------
    def _prepared(self, role: str, include_text: bool = True) -> PreparedGraph:
        self.say(f"pre-processing {role} graph")
        return PreparedGraph.load(role, self.parent.graph_path(role), self.work, include_text)

    def _encoder(self):
        prec = self.config.encoder
        o = self.outcome
        o.precisions["instruction_encoder"] = prec
        if prec == "fp32":
            return self.parent.graph_path("instruction_encoder")
        prep = self._prepared("instruction_encoder")
        if prec == "fp16":
            res = prep.fp16(self._feeds("instruction_encoder"))
            o.details["instruction_encoder"] = res.to_dict()
            return res.model
        o.details["instruction_encoder"] = layer_summary(prep, prep.layers)
        return prep.dynamic()

    def _frame_graph(self):
        role, cfg, o = self.frame_role, self.config, self.outcome
        include_text = cfg.encoder not in ("fp32", "fp16")
        prep = self._prepared(role, include_text)
        o.precisions[role] = cfg.precision
        if cfg.precision == "fp16":
            res = prep.fp16(self._feeds(role))
            o.details[role] = {**res.to_dict(), "preprocess": prep.preprocess}
            return res.model
        if cfg.base == "int8":
            self.say(f"calibrating {len(prep.layers)} layer inputs ({cfg.calib_method})")
            prep.calibrate(self._feeds(role), cfg.calib_method)
        if cfg.precision == "mixed" or cfg.sensitivity:
            return self._search(prep)
        o.details[role] = {**layer_summary(prep, prep.layers), "preprocess": prep.preprocess}
        return prep.build(cfg.base)

    def _graphs_with(self, role: str, graph) -> dict[str, object]:
        graphs = dict(self.outcome.graphs)
        graphs[role] = graph
        return graphs

    def _search(self, prep: PreparedGraph):
        cfg, o = self.config, self.outcome
        groups = sens.group_layers(prep.layers, cfg.granularity)

        def build(layers):
            return self._graphs_with(prep.role, prep.build(cfg.base, layers))

        def rank() -> list[str]:
            judge = self.evaluator.subset(cfg.sensitivity_samples)
            o.sensitivity = sens.sensitivity(judge, build, groups, prep.params(), self.say)
            return sens.ranking(o.sensitivity, self.budget)

        summary = {**layer_summary(prep, prep.layers), "preprocess": prep.preprocess}
        if cfg.precision != "mixed":
            rank()
            o.details[prep.role] = summary
            return prep.build(cfg.base)
        self.say(f"mixed precision: searching {len(groups)} {cfg.granularity}s for the budget")
        result = mixed_mod.search(self.evaluator, build, groups, rank, self.budget)
        if cfg.sensitivity and o.sensitivity is None:
            rank()
        o.mixed = result
        kept = [x for name in result.int8_groups for x in groups[name]]
        o.details[prep.role] = {**layer_summary(prep, kept), "preprocess": prep.preprocess}
        o.full_int8 = prep.build(cfg.base)
        return result.graphs[prep.role]

    def _feeds(self, role: str) -> list[dict]:
        """Calibration batches for one graph (the policy graph gets FP32 embeddings)."""
        from vla_edge.compress.quantize.evaluate import observation_feeds

        feeds = observation_feeds(self.parent.spec, self.calib, self.tokenizer)
        if role == "policy":
            enc = self.parent.graph_path("instruction_encoder")
            feeds[EMBEDDING] = run_graph(enc, batches(feeds, CALIB_BATCH), EMBEDDING)
            feeds.pop("input_ids")
        if role == "instruction_encoder":
            feeds = {k: feeds[k] for k in ("input_ids", "attention_mask")}
        # only what the graph takes (a generic or LeRobot graph may take no text, or no state)
        names = _input_names(self.parent, role)
        if names:
            feeds = {k: v for k, v in feeds.items() if k in names}
        return batches(feeds, CALIB_BATCH)

    def _cost(self, o: Outcome) -> dict:
        role = self.frame_role
        ev = self.evaluator
        rows = {
            "fp32": (self.parent.graph_path(role), ev.parent_graphs),
            self.config.precision: (o.graphs[role], o.graphs),
        }
        if o.full_int8 is not None:
            rows[f"{self.config.base} (all layers)"] = (
                o.full_int8,
                self._graphs_with(role, o.full_int8),
            )
        latency = ev.latency_ms({name: graphs for name, (_g, graphs) in rows.items()})
        return {
            name: {"bytes": size_bytes(g), "latency_ms_p50": latency[name], "side_by_side": True}
            for name, (g, _graphs) in rows.items()
        }


def _input_names(bundle, role: str) -> set[str]:
    """The graph's input names as its manifest entry lists them (empty if not listed)."""
    for entry in bundle.manifest.get("graphs", []):
        if entry.get("role") == role:
            return {i["name"] for i in entry.get("inputs", []) if isinstance(i, dict)}
    return set()


def calib_path(source) -> Path:
    """The file or folder a --calib value names (`lerobot:PATH` -> PATH)."""
    return split_source(source)[0]


def _calib_info(data, calib, held) -> dict:
    info = {
        "source": data.source,
        "random_frames": data.source == "random",
        "calibration_samples": len(calib),
        "heldout_samples": len(held),
    }
    if data.ids is not None:  # which frames of the dataset (global frame indices)
        info["frames"] = {"calibration": calib.ids.tolist(), "heldout": held.ids.tolist()}
    if data.dataset is not None:
        info["dataset"] = data.dataset
    return info
