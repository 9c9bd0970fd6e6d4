"""A fake simulator environment with the vla_edge.sim.env API: reset(), frames(), state(),
step(action) -> (success, done), instruction, close(). It succeeds when the summed action
crosses `goal`, and is done after `horizon` steps."""

from __future__ import annotations

import numpy as np


class FakeEnv:
    instruction = "reach the goal"

    def __init__(self, cameras=("front",), size=32, goal=1.0, horizon=50, dim=4):
        self.cameras, self.size, self.goal, self.horizon = cameras, size, goal, horizon
        self.action_dim = dim
        self.resets = self.steps = 0
        self.progress = 0.0
        self.actions: list[np.ndarray] = []
        self.renders = 0
        self.closed = False

    def reset(self):
        self.resets += 1
        self.steps, self.progress = 0, 0.0

    def frames(self):
        self.renders += 1
        level = min(255, self.steps * 5)
        return {c: np.full((self.size, self.size, 3), level, np.uint8) for c in self.cameras}

    def state(self):
        return np.array([self.progress, self.steps], np.float32)

    def step(self, action):
        self.actions.append(np.array(action))
        self.steps += 1
        self.progress += float(np.sum(action))
        return self.progress >= self.goal, self.steps >= self.horizon

    def close(self):
        self.closed = True
