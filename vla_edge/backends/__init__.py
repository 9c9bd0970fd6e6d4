"""Backends: one Runner interface, one subpackage per backend (torch, onnxrt, trt), and
`runner_for` / `runners_for`, the one place a runner is made."""

from vla_edge.backends.base import BACKENDS, Runner, Timing
from vla_edge.backends.factory import RunnerOptions, runner_for, runners_for

__all__ = ["BACKENDS", "Runner", "RunnerOptions", "Timing", "runner_for", "runners_for"]
