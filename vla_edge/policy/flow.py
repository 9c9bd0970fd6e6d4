"""The sampling loop over a split flow-matching bundle's graphs (numpy only; any backend's
runners). The graphs are described in `vla_edge.policy.adapters.lerobot.split`:

    vision_encoder.<camera>   one call per camera: frame -> image tokens
    prefix                    image tokens + instruction (+ state) -> per-layer keys/values
    denoise_step              num_steps calls: x_t, t, the prefix cache -> velocity
    action_decoder            x_0 -> actions in the dataset's units, clamped

The loop is LeRobot's (openpi's) forward Euler: x <- x + dt * v with dt = -1/num_steps and
t = 1 + k * dt, from the bundle's fixed noise (x at t=1). The keys and values go from the
prefix graph's outputs straight into every denoise step; nothing copies or extends them. The
prefix is computed once per frame: its language tokens attend to the image tokens, so it cannot
be kept across frames (the manifest's `flow.prefix_cache` says why). The instruction's
tokenization is kept while the instruction is unchanged.
"""

from __future__ import annotations

import time

import numpy as np

from vla_edge.errors import BundleError

PAST, PRESENT = "past_key_values.", "present."
VISION = "vision_encoder."
ROLES = ("prefix", "denoise_step", "action_decoder")


class FlowSampler:
    def __init__(self, runners: dict, spec, block: dict, noise: np.ndarray) -> None:
        missing = [r for r in ROLES if r not in runners]
        cams = [c.input_name[len("image_") :] for c in spec.cameras]
        missing += [VISION + c for c in cams if VISION + c not in runners]
        if missing:
            raise BundleError(f"a split flow-matching bundle needs graphs {missing}; re-export it")
        self.runners, self.spec = runners, spec
        self.steps = int(block["steps"])
        if self.steps < 1:
            raise BundleError(f"flow.steps must be >= 1, got {self.steps}: re-export the bundle")
        self.noise = np.asarray(noise, np.float32)
        self.cams = [
            (c.input_name, "image_tokens_" + c.input_name[len("image_") :]) for c in spec.cameras
        ]
        self.prefix_in = {m.name for m in runners["prefix"].input_metadata()}
        self.step_in = {m.name for m in runners["denoise_step"].input_metadata()}
        self.past = sorted(n for n in self.step_in if n.startswith(PAST))
        self._key: tuple | None = None
        self._tokens: tuple[np.ndarray, np.ndarray] | None = None
        self.last_ms: dict = {}

    def tokens(self, texts: tuple[str, ...], tokenizer) -> tuple[tuple, bool]:
        """(input_ids, attention_mask) of the instructions, kept while they are unchanged."""
        if texts == self._key and self._tokens is not None:
            return self._tokens, True
        self._tokens, self._key = tokenizer(list(texts)), texts
        return self._tokens, False

    def run(self, feeds: dict[str, np.ndarray], texts: tuple[str, ...], tokenizer):
        """Frames (+ state) feeds and instructions -> (actions [B, chunk, A], tokens cached)."""
        (ids, mask), hit = self.tokens(texts, tokenizer)
        t0 = time.perf_counter()
        pre = {"input_ids": ids, "attention_mask": mask}
        for image, tokens in self.cams:
            out = self.runners[VISION + image[len("image_") :]].infer({image: feeds[image]})
            pre[tokens] = out[tokens]
        if "state" in self.prefix_in:
            pre["state"] = feeds["state"]
        t1 = time.perf_counter()
        prefix = self.runners["prefix"].infer(pre, check=False)
        t2 = time.perf_counter()
        x, steps = self._integrate(prefix, feeds, ids.shape[0])
        t3 = time.perf_counter()
        actions = self.runners["action_decoder"].infer({"x_t": x}, check=False)["actions"]
        t4 = time.perf_counter()
        self.last_ms = {
            "vision_ms": (t1 - t0) * 1e3,
            "prefix_ms": (t2 - t1) * 1e3,
            "denoise_ms": steps,
            "decoder_ms": (t4 - t3) * 1e3,
            "total_ms": (t4 - t0) * 1e3,
        }
        return actions, hit

    def _integrate(self, prefix: dict, feeds: dict, batch: int) -> tuple[np.ndarray, list]:
        step = {"prefix_mask": prefix["prefix_mask"]}
        step.update({name: prefix[PRESENT + name[len(PAST) :]] for name in self.past})
        if "state" in self.step_in:
            step["state"] = feeds["state"]
        x = np.ascontiguousarray(np.broadcast_to(self.noise, (batch, *self.noise.shape[1:])))
        dt = -1.0 / self.steps
        times = []
        for k in range(self.steps):
            s = time.perf_counter()
            step["x_t"] = x
            step["timestep"] = np.full((batch,), 1.0 + k * dt, np.float32)
            v = self.runners["denoise_step"].infer(step, check=False)["velocity"]
            x = (x + np.float32(dt) * v).astype(np.float32)
            times.append((time.perf_counter() - s) * 1e3)
        return x, times


def load_noise(bundle) -> np.ndarray:
    """The bundle's fixed starting noise (x at t=1), [1, chunk, max_action_dim]."""
    block = bundle.manifest["flow"]
    path = bundle.path / block["noise_file"]
    if not path.is_file():
        raise BundleError(f"{bundle.path}: the flow noise file {block['noise_file']} is missing")
    return np.load(path, allow_pickle=False)
