"""Backends: one Runner interface, one subpackage per backend (torch, onnxrt, trt)."""

from vla_edge.backends.base import BACKENDS, Runner, Timing

__all__ = ["BACKENDS", "Runner", "Timing"]
