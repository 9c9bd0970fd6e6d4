"""Judge a candidate graph set against the parent bundle on held-out observations: action error
in each dimension's units (max, mean, p99), identical action bins, and the budget."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vla_edge.backends.factory import RunnerOptions, runner_for
from vla_edge.budget import Budget, Verdict, judge
from vla_edge.bundle import Bundle
from vla_edge.compress.quantize.calibration import CalibrationSet
from vla_edge.export.parity import ParityConfig, compare
from vla_edge.policy.spec import PolicySpec

EMBEDDING = "instruction_embedding"


def observation_feeds(spec: PolicySpec, data: CalibrationSet, tokenizer) -> dict[str, np.ndarray]:
    """Graph-input arrays for every observation: image_<camera>, input_ids, attention_mask,
    state."""
    feeds = {c.input_name: np.ascontiguousarray(data.frames[c.name]) for c in spec.cameras}
    feeds["input_ids"], feeds["attention_mask"] = tokenizer(list(data.instructions))
    if spec.state_dim:
        feeds["state"] = np.asarray(data.states, np.float32)
    return feeds


def batches(feeds: dict[str, np.ndarray], size: int) -> list[dict[str, np.ndarray]]:
    n = len(next(iter(feeds.values())))
    return [{k: v[i : i + size] for k, v in feeds.items()} for i in range(0, n, size)]


def graph_runner(graph, options: RunnerOptions | None = None):
    """A runner for a candidate graph (path or ModelProto): ONNX Runtime CPU, all graph
    optimizations, as deployed. A ModelProto whose weights pass EXTERNAL_DATA_BYTES cannot be
    handed over as one serialized message (protobuf's 2 GiB): it is written (a copy: saving
    moves the weights out of the model) with external data into a temporary folder that lives
    as long as the runner."""
    from vla_edge.export import onnx_export as ox

    if isinstance(graph, (str, Path)) or ox.tensor_bytes(graph) <= ox.EXTERNAL_DATA_BYTES:
        return runner_for(graph, options=options)
    import onnx

    folder = tempfile.TemporaryDirectory(prefix="vla-edge-graph-")
    copy = onnx.ModelProto()
    copy.CopyFrom(graph)
    path = Path(folder.name) / "graph.onnx"
    ox.save_onnx(copy, path)
    runner = runner_for(path, options=options)
    runner._graph_folder = folder  # removed with the runner
    return runner


def run_graph(graph, feed_batches: list[dict[str, np.ndarray]], output: str) -> np.ndarray:
    with graph_runner(graph) as runner:
        outs = [runner.infer(runner.feeds_from(b))[output] for b in feed_batches]
    return np.concatenate(outs)


def _frame_role(graphs: dict[str, object]) -> str:
    return "monolithic" if "monolithic" in graphs else "policy"


@dataclass
class Metrics:
    identical_bins: float | None
    error: dict[str, dict]
    score: float
    embedding_max_abs: float | None
    parity: dict
    reference: np.ndarray = field(default=None, repr=False)  # the parent's actions
    actions: np.ndarray = field(default=None, repr=False)  # the candidate's, same frames

    def verdict(self, budget: Budget, spec: PolicySpec) -> Verdict:
        """The budget's verdict (vla_edge.budget.judge) on these held-out actions."""
        return judge(self.reference, self.actions, spec, budget)

    def violations(self, budget: Budget, spec: PolicySpec) -> list[str]:
        return self.verdict(budget, spec).reasons

    def to_dict(self) -> dict:
        return {
            "identical_bins": self.identical_bins,
            "action_error": self.error,
            "score": self.score,
            "embedding_max_abs": self.embedding_max_abs,
            "parity": self.parity,
        }


class Evaluator:
    """Holds held-out observations and the parent's outputs on them."""

    def __init__(self, parent: Bundle, data: CalibrationSet, tokenizer, batch: int = 16) -> None:
        self.parent, self.spec, self.batch = parent, parent.spec, batch
        self.feeds = observation_feeds(self.spec, data, tokenizer)
        self.parent_graphs = {g["role"]: parent.path / g["file"] for g in parent.graphs}
        self.ref = self.run(self.parent_graphs)

    def subset(self, n: int) -> Evaluator:
        """The same judge on the first n held-out samples (for the many sensitivity runs)."""
        sub = object.__new__(Evaluator)
        sub.__dict__.update(self.__dict__)
        sub.feeds = {k: v[:n] for k, v in self.feeds.items()}
        sub.ref = {k: v[:n] for k, v in self.ref.items()}
        return sub

    @property
    def samples(self) -> int:
        return len(self.feeds["input_ids"])

    def run(self, graphs: dict[str, object]) -> dict[str, np.ndarray]:
        if "monolithic" in graphs:
            return {"actions": run_graph(graphs["monolithic"], self._batches(), "actions")}
        enc = graphs["instruction_encoder"]
        if enc is self.parent_graphs.get("instruction_encoder") and hasattr(self, "ref"):
            emb = self.ref[EMBEDDING]
        else:
            emb = run_graph(enc, self._batches(), EMBEDDING)
        feeds = {**self.feeds, EMBEDDING: emb}
        actions = run_graph(graphs["policy"], batches(feeds, self.batch), "actions")
        return {EMBEDDING: emb, "actions": actions}

    def _batches(self) -> list[dict[str, np.ndarray]]:
        return batches(self.feeds, self.batch)

    def latency_ms(self, variants: dict[str, dict[str, object]], iters: int = 60) -> dict:
        """p50 per-frame latency (batch 1, ONNX Runtime CPU) of each variant's per-frame graph,
        {label: graphs}, timed side by side in alternating rounds (vla_edge.bench.latency) in
        this process, idle threads not spinning so the sessions do not slow each other."""
        from vla_edge.bench.latency import time_runners

        feeds = {
            **self.feeds,
            **({EMBEDDING: self.ref[EMBEDDING]} if EMBEDDING in self.ref else {}),
        }
        one = {k: v[:1] for k, v in feeds.items()}
        opts = RunnerOptions(spinning=False)
        targets = {
            label: (graph_runner(graphs[_frame_role(graphs)], opts), one)
            for label, graphs in variants.items()
        }
        stats = time_runners(targets, iterations=iters, warmup=5, rounds=6)
        return {label: s["p50"] for label, s in stats.items()}

    def evaluate(self, graphs: dict[str, object], label: str = "quantized") -> Metrics:
        return self.metrics(self.run(graphs), label)

    def metrics(self, out: dict[str, np.ndarray], label: str) -> Metrics:
        report = compare(
            self.ref, out, self.spec, ParityConfig(), names=("parent", label), raise_on_fail=False
        )
        err = np.abs(self.ref["actions"].astype(np.float64) - out["actions"]).reshape(
            -1, self.spec.action.dim
        )
        rng = np.subtract(self.spec.action.high, self.spec.action.low)
        errors = {
            name: {**report.action_error[name], "p99": float(np.percentile(err[:, i], 99))}
            for i, name in enumerate(self.spec.action.names)
        }
        emb = report.max_abs_error.get(EMBEDDING)
        score = float((err / rng).mean())
        return Metrics(
            report.identical_bins,
            errors,
            score,
            emb,
            report.to_dict(),
            self.ref["actions"],
            out["actions"],
        )
