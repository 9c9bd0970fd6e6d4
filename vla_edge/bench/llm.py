"""An analytic roofline of a decoder-LLM VLA, for sizes no bundle here has (OpenVLA-7B on an Orin).

The graph roofline (`bench.decode`) costs the exported graphs node by node; this model costs the
same decode loop from a decoder's shape alone, with the same device profiles and efficiency
factors:
- a decode step reads every decoder weight once (at `weight_bits`) and the KV cache of the
  context so far, and does 2 FLOPs per weight plus the attention over the context;
- prefill runs the whole prompt at once (GEMMs over all its tokens, compute-bound when long);
- the vision tower costs 2 FLOPs per parameter per patch token (a ViT), weights read once;
- every kernel launch costs `Efficiency.launch_us` (`kernels_per_layer` per layer and step).
Everything here is an ESTIMATE (kind "estimate").
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from vla_edge.bench.devices import DeviceProfile
from vla_edge.bench.estimate import KIND, Efficiency


@dataclass(frozen=True)
class DecoderShape:
    layers: int
    hidden: int
    intermediate: int
    heads: int
    kv_heads: int
    head_rows: int  # LM-head rows computed per token (256 when only the action slice is)
    name: str = "decoder"

    @property
    def head_dim(self) -> int:
        return self.hidden // self.heads

    @property
    def layer_params(self) -> int:
        q_o = 2 * self.hidden * self.heads * self.head_dim
        kv = 2 * self.hidden * self.kv_heads * self.head_dim
        return q_o + kv + 3 * self.hidden * self.intermediate  # SwiGLU MLP: gate, up, down

    @property
    def params(self) -> int:
        """Weights a token's forward reads (embedding lookups excluded: one row each)."""
        return self.layers * self.layer_params + self.head_rows * self.hidden

    def kv_bytes(self, context: int, bytes_per_value: int = 2) -> int:
        return 2 * self.layers * self.kv_heads * self.head_dim * context * bytes_per_value


def _time_s(flops: float, nbytes: float, device: DeviceProfile, eff: Efficiency, kernels: int):
    peak = device.fp16_tflops_dense * 1e12 * eff.gemm
    bw = device.memory_bandwidth_gbs * 1e9 * eff.memory
    compute, memory = flops / peak, nbytes / bw
    return max(compute, memory) + kernels * eff.launch_us * 1e-6, compute >= memory


def decode_step(shape, context, device, eff, weight_bits=16, kernels_per_layer=12) -> dict:
    """One token at `context` tokens of cache."""
    flops = 2 * shape.params + 4 * shape.layers * shape.heads * shape.head_dim * context
    nbytes = shape.params * weight_bits / 8 + shape.kv_bytes(context)
    t, compute = _time_s(flops, nbytes, device, eff, kernels_per_layer * shape.layers)
    return {
        "ms": t * 1e3,
        "bound": "compute" if compute else "memory",
        "bytes": nbytes,
        "flops": flops,
    }


def prefill(shape, tokens, device, eff, weight_bits=16, kernels_per_layer=12) -> dict:
    flops = 2 * shape.params * tokens + 2 * shape.layers * shape.heads * shape.head_dim * tokens**2
    nbytes = shape.params * weight_bits / 8 + shape.kv_bytes(tokens)
    t, compute = _time_s(flops, nbytes, device, eff, kernels_per_layer * shape.layers)
    return {"ms": t * 1e3, "bound": "compute" if compute else "memory", "flops": flops}


def vision(params: int, patches: int, device, eff, layers: int = 24) -> dict:
    flops, nbytes = 2 * params * patches, params * 2
    t, compute = _time_s(flops, nbytes, device, eff, 10 * layers)
    return {"ms": t * 1e3, "bound": "compute" if compute else "memory", "flops": flops}


def action(
    shape,
    device,
    eff,
    *,
    prompt: int,
    tokens: int,
    vision_params: int,
    patches: int,
    weight_bits: int = 16,
) -> dict:
    """Per-action estimate: vision + prefill of the prompt (giving token 1) + tokens - 1 steps."""
    v = vision(vision_params, patches, device, eff)
    p = prefill(shape, prompt, device, eff, weight_bits)
    steps = [decode_step(shape, prompt + k, device, eff, weight_bits) for k in range(tokens - 1)]
    per_token = sum(s["ms"] for s in steps) / len(steps) if steps else p["ms"]
    return {
        "kind": KIND,
        "device": device.name,
        "decoder": asdict(shape),
        "weight_bits": weight_bits,
        "vision_ms": v["ms"],
        "prefill_ms": p["ms"],
        "per_token_ms": per_token,
        "decode_bound": steps[0]["bound"] if steps else p["bound"],
        "tokens": tokens,
        "per_action_ms": v["ms"] + p["ms"] + sum(s["ms"] for s in steps),
        "weight_gb_per_token": shape.params * weight_bits / 8 / 1e9,
        "efficiency": eff.to_dict(),
    }


def shape_of(decoder_block: dict, head_rows: int) -> DecoderShape:
    """The DecoderShape of a bundle's manifest `decoding.decoder` block (sizes from its config)."""
    from vla_edge.errors import InputError

    need = ("layers", "hidden", "heads", "kv_heads", "intermediate")
    missing = [k for k in need if k not in decoder_block]
    if missing:
        raise InputError(f"decoder block lacks {missing}: re-export the bundle")
    return DecoderShape(
        decoder_block["layers"],
        decoder_block["hidden"],
        decoder_block["intermediate"],
        decoder_block["heads"],
        decoder_block["kv_heads"],
        head_rows,
        decoder_block.get("type", "decoder"),
    )
