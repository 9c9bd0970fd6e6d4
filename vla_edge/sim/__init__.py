"""Closed-loop simulation: Meta-World task suites, scripted demonstrations, evaluation.

Needs the [sim] extra (metaworld, mujoco); rendering runs on the CPU with MUJOCO_GL=egl
(Mesa), falling back to osmesa.
"""
