"""Benchmark harness, device profiles, roofline estimator, reports."""
