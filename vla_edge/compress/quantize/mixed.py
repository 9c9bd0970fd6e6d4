"""Mixed precision under a budget: start from every layer INT8 and return the most sensitive
layers (by the sensitivity ranking) to floating point until the held-out error fits the budget.

The number k of float layers is found with a doubling search followed by bisection, assuming
that more float layers do not make the error worse; every trial is recorded, and the chosen
graph is the smallest k that was measured to pass.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from vla_edge.compress.quantize.config import Budget
from vla_edge.compress.quantize.evaluate import Evaluator, Metrics
from vla_edge.compress.quantize.graphs import Layer
from vla_edge.errors import QuantizationError


@dataclass
class MixedResult:
    float_groups: list[str]
    int8_groups: list[str]
    metrics: Metrics
    graphs: dict[str, object]
    trials: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "float_groups": self.float_groups,
            "int8_groups": self.int8_groups,
            "trials": self.trials,
        }


class _Search:
    def __init__(self, evaluator, build, groups, rank, budget) -> None:
        self.evaluator, self.build, self.groups = evaluator, build, groups
        self.rank, self.budget = rank, budget
        self.ranking: list[str] = []
        self.results: dict[int, tuple[bool, Metrics, dict]] = {}
        self.trials: list[dict] = []

    def trial(self, k: int) -> bool:
        if k in self.results:
            return self.results[k][0]
        keep_float = set(self.ranking[:k])
        layers = [x for name, g in self.groups.items() if name not in keep_float for x in g]
        graphs = self.build(layers)
        m = self.evaluator.evaluate(graphs, label=f"mixed:k={k}")
        bad = m.violations(self.budget, self.evaluator.spec)
        self.results[k] = (not bad, m, graphs)
        self.trials.append({"float_layers": k, "passed": not bad, "violations": bad, **_brief(m)})
        return not bad

    def smallest_passing(self) -> int:
        if self.trial(0):
            return 0
        self.ranking = self.rank()  # sensitivity runs only when all-INT8 misses the budget
        n = len(self.ranking)
        lo, hi = 0, 1
        while hi < n and not self.trial(hi):
            lo, hi = hi, min(2 * hi, n)
        if not self.trial(hi):
            raise QuantizationError(
                f"the budget is not met even with all {n} layers in floating point "
                f"({'; '.join(self.trials[-1]['violations'])}): the remaining error comes from "
                "outside the quantized layers (e.g. a quantized instruction encoder); loosen "
                "--budget or keep the encoder FP32"
            )
        while hi - lo > 1:
            mid = (lo + hi) // 2
            lo, hi = (lo, mid) if self.trial(mid) else (mid, hi)
        return hi


def _brief(m: Metrics) -> dict:
    return {
        "identical_bins": m.identical_bins,
        "score": m.score,
        "p99_error": {k: v["p99"] for k, v in m.error.items()},
    }


def search(
    evaluator: Evaluator,
    build: Callable[[list[Layer]], dict[str, object]],
    groups: dict[str, list[Layer]],
    rank: Callable[[], list[str]],
    budget: Budget,
) -> MixedResult:
    """`rank()` returns the group names, most sensitive first; it is called only when the
    all-INT8 graph misses the budget."""
    s = _Search(evaluator, build, groups, rank, budget)
    k = s.smallest_passing()
    _, metrics, graphs = s.results[k]
    keep = s.ranking[:k]
    return MixedResult(keep, [g for g in groups if g not in keep], metrics, graphs, s.trials)
