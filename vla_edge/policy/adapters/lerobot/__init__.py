"""LeRobot policies (ACT, Diffusion Policy, SmolVLA, pi0 / pi0.5) as verified bundles.

Importing this package registers the adapters; it needs torch, not lerobot (lerobot is needed
only to load a checkpoint, in the Python >= 3.12 export environment)."""

from vla_edge.policy.adapters.lerobot import act, diffusion, pi0, smolvla  # noqa: F401  (register)
