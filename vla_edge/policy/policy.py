"""Policy: camera frames + instruction + state in, an action chunk in physical units out.

It wraps one or two runners (split layout: instruction encoder + per-frame policy graph;
monolithic: one graph), checks every input against the spec, and caches the instruction
embedding until the instruction changes, so the per-frame path never re-encodes the text.
"""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path

import numpy as np

from vla_edge.backends.base import BACKENDS, Runner
from vla_edge.backends.factory import RunnerOptions
from vla_edge.errors import ActionError, BackendError, BundleError, InputError, ShapeError
from vla_edge.policy.spec import PolicySpec


class Policy:
    def __init__(
        self, spec: PolicySpec, runners: dict[str, Runner], tokenizer, backend: str, source: str
    ) -> None:
        self.spec, self.runners, self.tokenizer = spec, runners, tokenizer
        self.backend, self.source = backend, source
        self.layout = "monolithic" if "monolithic" in runners else "split"
        self.last_latency_ms: float | None = None
        self.failure_reasons: list[str] = []  # set by load() for a bundle marked failed
        self.unvalidated: list[str] = []  # set by load(): engines `validate` never checked
        self.cache_hits = self.cache_misses = 0
        self._cache_key: tuple | None = None
        self._cache: tuple[np.ndarray, np.ndarray] | None = None
        self._activate(runners)
        # a monolithic graph of a generic module takes only the inputs its forward declares
        mono = runners.get("monolithic") or runners.get("policy")
        self._takes = {m.name for m in mono.input_metadata()} if mono else set()
        if mono:
            try:
                _check_spec_against_graph(spec, mono, source)
            except BundleError:
                self.close()
                raise
        # per-frame checks read these instead of walking the spec on every call
        self._cams = [(c.name, c.input_name, (c.height, c.width, 3)) for c in spec.cameras]
        self._cam_names = {c.name for c in spec.cameras}
        self._low = np.asarray(spec.action.low, np.float32)
        self._high = np.asarray(spec.action.high, np.float32)
        self._decoder = None  # a KV-cache bundle (decoder LLM): the decode loop runs the graphs
        self._flow = None  # a split flow-matching bundle (SmolVLA, pi0): see use_flow()
        if "prefill" in runners:
            from vla_edge.policy.autoregressive.decode import KvCacheDecoder

            self.layout, self._decoder = "autoregressive", KvCacheDecoder(runners, spec)

    def use_flow(self, sampler) -> None:
        """Drive a split flow-matching bundle's graphs with `sampler` (vla_edge.policy.flow)."""
        self.layout, self._flow = "flow-split", sampler

    @staticmethod
    def _activate(runners: dict[str, Runner]) -> None:
        """Activate every runner, or none: when one fails, those already active are closed."""
        done: list[Runner] = []
        try:
            for runner in runners.values():
                runner.activate()
                done.append(runner)
        except BaseException:
            for runner in reversed(done):
                with contextlib.suppress(Exception):  # the activation error is the one to report
                    runner.deactivate()
            raise

    # --- construction --------------------------------------------------------------------------
    @classmethod
    def load(
        cls,
        path: str | Path,
        backend: str = "onnxrt",
        providers: list[str] | None = None,
        threads: int | None = None,
        device: str | None = None,
        options: RunnerOptions | None = None,
        allow_failed: bool = False,
    ) -> Policy:
        """A bundle directory (any backend) or a reference checkpoint directory (torch).
        `options` (vla_edge.backends.RunnerOptions) says how the runners run; `providers`,
        `threads` and `device` are shorthands for its fields. A bundle that a step marked
        failed (a quantization that missed its budget, kept with --keep-failed) is refused
        with the reasons unless `allow_failed`; then `policy.failure_reasons` lists them."""
        from vla_edge.policy import loading

        if not isinstance(path, str | os.PathLike):
            raise TypeError(
                "Policy.load expects the path of a bundle or checkpoint directory (str or "
                f"pathlib.Path), got {type(path).__name__} {path!r:.60}"
            )
        if str(path).strip() == "":
            raise BundleError("Policy.load got an empty path; give a bundle or checkpoint folder")
        if backend not in BACKENDS:
            raise BackendError(f"unknown backend {backend!r}; choose one of {list(BACKENDS)}")
        options = (options or RunnerOptions()).but(
            **{
                k: v
                for k, v in {"providers": providers, "threads": threads, "device": device}.items()
                if v is not None
            }
        )
        return loading.load_policy(cls, Path(path), backend, options, allow_failed)

    def close(self) -> None:
        for runner in self.runners.values():
            runner.deactivate()

    def __enter__(self) -> Policy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def takes_instruction(self) -> bool:
        """Whether the policy reads its instruction (a split layout's text encoder, a decoder
        LLM's prompt, a monolithic graph with input_ids); a generic module may take none."""
        if self._decoder is not None or self._flow is not None:
            return True
        if "instruction_encoder" in self.runners:
            return True
        return "input_ids" in self._takes

    @property
    def decode_timing(self) -> dict | None:
        """A decoder LLM's last predict, per graph call (vision, prefill, each decode step), or
        a split flow bundle's (vision, prefix, each denoise step, decoder)."""
        if self._flow is not None:
            return self._flow.last_ms
        return self._decoder.last_ms if self._decoder is not None else None

    # --- inference -----------------------------------------------------------------------------
    def predict(
        self, frames: dict[str, np.ndarray], instruction: str, state: np.ndarray | None = None
    ) -> np.ndarray:
        """One observation -> action chunk [chunk, action_dim] (float32, physical units)."""
        start = time.perf_counter()
        feeds = self._image_feeds(self._check_frame_keys(frames), batched=False)
        if self.spec.state_dim:
            feeds["state"] = self._check_state(state, 1)
        actions = self._limited(self._run(feeds, (instruction,))[0])
        self.last_latency_ms = (time.perf_counter() - start) * 1e3
        return actions

    def predict_batch(
        self,
        frames: dict[str, np.ndarray],
        instructions: list[str] | str,
        state: np.ndarray | None = None,
    ) -> np.ndarray:
        """Batched frames {camera: [B, H, W, 3]} -> actions [B, chunk, action_dim]."""
        start = time.perf_counter()
        feeds = self._image_feeds(self._check_frame_keys(frames), batched=True)
        batch = next(iter(feeds.values())).shape[0]
        if batch == 0:
            raise ShapeError("predict_batch got a batch of 0 frames: give at least one")
        texts = [instructions] * batch if isinstance(instructions, str) else list(instructions)
        if len(texts) != batch:
            raise InputError(f"got {len(texts)} instructions for a batch of {batch} frames")
        if self.spec.state_dim:
            feeds["state"] = self._check_state(state, batch)
        actions = self._limited(self._run(feeds, tuple(texts)))
        self.last_latency_ms = (time.perf_counter() - start) * 1e3
        return actions

    def _limited(self, actions: np.ndarray) -> np.ndarray:
        """The actions clamped to the spec's limits (a new array: a runner may reuse its output
        buffer), or ActionError when any is NaN or inf: such a chunk is never returned."""
        return limit_actions(actions, self._low, self._high, self.spec.action.names)

    def _run(self, feeds: dict[str, np.ndarray], texts: tuple[str, ...]) -> np.ndarray:
        if self.spec.instruction.state_prompt is not None:  # pi0.5: new text every frame
            texts = tuple(self._state_prompt().render(texts, feeds["state"]))
        if self._decoder is not None:
            actions, hit = self._decoder.run(feeds, texts, self.tokenizer)
            self.cache_hits, self.cache_misses = self.cache_hits + hit, self.cache_misses + 1 - hit
            return actions
        if self._flow is not None:
            actions, hit = self._flow.run(feeds, texts, self.tokenizer)
            self.cache_hits, self.cache_misses = self.cache_hits + hit, self.cache_misses + 1 - hit
            return actions
        if self.layout == "monolithic":
            if "input_ids" in self._takes:
                feeds["input_ids"], feeds["attention_mask"] = self.tokenizer(list(texts))
            feeds = {k: v for k, v in feeds.items() if k in self._takes}
            return self.runners["monolithic"].infer(feeds)["actions"]
        emb, mask = self._instruction(texts)
        feeds["instruction_embedding"], feeds["attention_mask"] = emb, mask
        if feeds.keys() != self._takes:  # a generic module's graph takes what it declares
            feeds = {k: v for k, v in feeds.items() if k in self._takes}
        # frames and state were checked above and the embedding is the encoder's own output
        return self.runners["policy"].infer(feeds, check=False)["actions"]

    def _state_prompt(self):
        if getattr(self, "_prompt", None) is None:
            from vla_edge.policy.state_prompt import StatePrompt

            self._prompt = StatePrompt.from_dict(
                self.spec.instruction.state_prompt, self.spec.state_dim
            )
        return self._prompt

    def _instruction(self, texts: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
        if texts == self._cache_key and self._cache is not None:
            self.cache_hits += 1
            return self._cache
        self.cache_misses += 1
        ids, mask = self.tokenizer(list(texts))
        emb = self.runners["instruction_encoder"].infer({"input_ids": ids, "attention_mask": mask})[
            "instruction_embedding"
        ]
        self._cache_key, self._cache = texts, (emb, mask)
        return self._cache

    def encode_instruction(self, instruction: str) -> None:
        """Warm the instruction cache (e.g. when the operator changes the task)."""
        if self._decoder is not None:
            self._decoder.prefix((instruction,), self.tokenizer)
        elif self.layout == "split":
            self._instruction((instruction,))

    # --- input checks --------------------------------------------------------------------------
    def _check_frame_keys(self, frames: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        if not isinstance(frames, dict):
            raise InputError(
                f"frames must be a dict {{camera: image}}, got {type(frames).__name__}"
            )
        if frames.keys() == self._cam_names:
            return frames
        names = self.spec.camera_names
        unknown = sorted(set(frames) - set(names))
        missing = sorted(set(names) - set(frames))
        raise InputError(
            f"frames do not match the policy's cameras {names}: unknown {unknown}, "
            f"missing {missing}"
        )

    def _image_feeds(self, frames: dict[str, np.ndarray], batched: bool) -> dict[str, np.ndarray]:
        """uint8 frames of each camera's size -> contiguous [B, H, W, 3] graph inputs
        (`batched=False`: one [H, W, 3] frame per camera, given a batch axis of 1)."""
        feeds, batch = {}, None
        for name, input_name, want in self._cams:
            img = np.asarray(frames[name])
            if img.dtype != np.uint8:
                raise InputError(
                    f"camera {name!r}: frames must be uint8 RGB (0-255), got {img.dtype}; "
                    "convert with (img * 255).clip(0, 255).astype(np.uint8) if it is 0-1 float"
                )
            ok = img.ndim == 4 and img.shape[1:] == want if batched else img.shape == want
            if not ok:
                raise ShapeError(_frame_shape_message(name, want, img.shape, batched))
            img = img if batched else img[None]
            if batch is not None and img.shape[0] != batch:
                raise ShapeError(f"cameras have different batch sizes ({batch} vs {img.shape[0]})")
            batch = img.shape[0]
            feeds[input_name] = np.ascontiguousarray(img)  # no copy when already contiguous
        return feeds

    def _check_state(self, state: np.ndarray | None, batch: int) -> np.ndarray:
        s = self.spec.state_dim
        if state is None:
            raise InputError(f"this policy needs a proprio state of {s} values; none was given")
        try:
            raw = np.asarray(state, dtype=np.float32)
        except (TypeError, ValueError) as exc:
            raise InputError(f"state must be {s} numbers, got {state!r:.80} ({exc})") from None
        want = (s,) if batch == 1 else (batch, s)
        if raw.size != batch * s:
            raise ShapeError(
                f"state must have {s} values{f' for each of the {batch} frames' * (batch > 1)}, "
                f"got {raw.size} (shape {list(raw.shape)}); expected shape {list(want)}"
            )
        st = raw.reshape(batch, s)
        if not np.isfinite(st).all():
            bad = np.argwhere(~np.isfinite(st))[0].tolist()
            raise InputError(f"state contains NaN or inf (first at index {bad}); refusing to act")
        return st


def limit_actions(actions, low: np.ndarray, high: np.ndarray, names: list[str]) -> np.ndarray:
    """`actions` [..., dim] clamped to [low, high] as float32; ActionError naming the first
    non-finite element when any is NaN or inf (a clamp would pass NaN through)."""
    arr = np.asarray(actions, dtype=np.float32)
    if not np.isfinite(arr).all():
        bad = ~np.isfinite(arr)
        first = np.argwhere(bad)[0].tolist()
        raise ActionError(
            f"the policy produced {int(bad.sum())} non-finite action value(s) of {arr.size} "
            f"(first at {first}, action {names[first[-1]]!r}: {arr[tuple(first)]}); nothing "
            "may be sent from it. The model is broken (NaN weights?) or its input is far outside "
            "what it was trained on: check the inputs, re-export and compare with `vla-edge "
            "validate`"
        )
    return np.minimum(np.maximum(arr, low), high)


def _check_spec_against_graph(spec: PolicySpec, runner: Runner, source: str) -> None:
    """The spec must describe the graph it comes with: a state size or camera size that differs
    from the graph's input is the bundle's fault (an edited or mismatched manifest), and must be
    said so, not blamed on the caller's input later."""
    wants = {"state": (spec.state_dim,)} if spec.state_dim else {}
    wants.update({c.input_name: (c.height, c.width, 3) for c in spec.cameras})
    for meta in runner.input_metadata():
        want = wants.get(meta.name)
        graph = tuple(meta.shape[1:]) if meta.shape is not None else ()
        if want is None or len(graph) != len(want):
            continue
        if any(isinstance(g, int) and g != w for g, w in zip(graph, want, strict=True)):
            what, said, has = (
                ("state_dim", want[0], f"takes {graph[0]} values")
                if meta.name == "state"
                else (f"camera {meta.name!r} is", list(want), f"is {list(graph)}")
            )
            raise BundleError(
                f"{source}: the spec says {what} {said} but the graph's input {meta.name!r} "
                f"{has}: the bundle's manifest.json does not match its "
                "graph (edited by hand?); restore manifest.json or re-export the bundle"
            )


def _frame_shape_message(
    camera: str, want: tuple[int, ...], got: tuple[int, ...], batched: bool
) -> str:
    """What is wrong with a frame's shape: predict takes one [H, W, 3] frame per camera,
    predict_batch a [B, H, W, 3] batch."""

    def shape(dims) -> str:
        return "[" + ", ".join(str(d) for d in dims) + "]"

    expected = (
        f"a batch of shape {shape(('B', *want))}" if batched else f"an image of shape {shape(want)}"
    )
    axes = "(B, H, W, RGB)" if batched else "(H, W, RGB)"
    head = f"camera {camera!r}: expected {expected} {axes}, got {shape(got)}"
    if batched and tuple(got) == want:
        return f"{head}: add a batch axis (frame[None]), or call predict() for one frame"
    if not batched and len(got) == 4 and tuple(got[1:]) == want:
        return f"{head}: that is a batch of {got[0]} frames; call predict_batch() for batches"
    return f"{head}; resize the frame to {want[0]}x{want[1]} (H x W) with 3 RGB channels"


def bundle_or_checkpoint(path: Path) -> str:
    """'bundle' or 'checkpoint', or a BundleError that says what was found."""
    from vla_edge.backends.torch.loader import is_checkpoint, not_a_checkpoint

    if (path / "manifest.json").is_file():
        return "bundle"
    if is_checkpoint(path):
        return "checkpoint"
    if (path / "config.json").is_file():
        raise BundleError(
            f"{path} has no manifest.json (not a bundle) and {not_a_checkpoint(path)}"
        )
    raise BundleError(
        f"{path} is neither a bundle (manifest.json) nor a reference checkpoint (config.json): "
        "make a bundle with `vla-edge export CKPT -o BUNDLE`"
    )
