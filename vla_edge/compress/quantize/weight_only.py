"""Weight-only quantization (and FP16) of a decoder-LLM (KV-cache) bundle's decoder graphs.

A decode step reads every decoder weight once per token, so what pays at batch 1 is fewer bytes
per weight, not integer arithmetic. Two forms:

- `ort` (ONNX Runtime, CPU): every MatMul with a constant weight becomes `com.microsoft`
  MatMulNBits (INT8 or INT4, symmetric, blocks of `block_size` along K), through ORT's
  MatMulNBitsQuantizer. Runs here; TensorRT does not take contrib ops.
- `tensorrt` (TensorRT 10.3, Orin): INT8 weights per output channel behind a DequantizeLinear
  (zero point 0) into an FP32/FP16 MatMul: W8A16, opset 17, which TensorRT 10.3's parser builds
  (and `vla-edge check` accepts). INT4 weights in TensorRT are blocked INT4 DequantizeLinear,
  which needs ONNX opset 21 (the INT4 type); TensorRT 10.3 declares opsets 9-20, so no INT4
  form is written for it (on JetPack 6 INT4 decoders run through TensorRT-LLM/MLC kernels).

`fp16` converts every graph with the project's FP16 pass (FP32 islands for norms, softmax and
the argmax). The vision encoder stays FP32 under weight-only quantization (it is not a decoder
graph). Every result is judged against the FP32 parent by decoding both with ONNX Runtime on
held-out observations (real frames from `data` when given): identical action tokens and
sequences, the action error in each dimension's units, and the decoded actions judged by
vla_edge.budget.judge (`budget`, else the default one quantize uses for every bundle). A miss
of it or of `min_tokens` (least fraction of identical tokens) fails the step and writes nothing,
unless `keep_failed`, which writes it marked failed.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from vla_edge.budget import Budget
from vla_edge.budget import judge as budget_judge
from vla_edge.errors import BundleError, InputError, ParityError

PRECISIONS = {"int8-weight": 8, "int4-weight": 4, "fp16": 16}
FORMS = ("ort", "tensorrt")
DECODER_ROLES = ("prefix", "prefill", "decode_step")


@dataclass
class WeightOnlyConfig:
    precision: str = "int4-weight"
    form: str = "ort"
    block_size: int = 32
    data: Path | str | None = None  # held-out observations (a demonstration set, ...)
    samples: int = 32
    seed: int = 1
    min_tokens: float | None = None  # least fraction of identical action tokens vs FP32
    budget: object = None  # vla_edge.budget.Budget on the decoded actions (None: the default)
    keep_failed: bool = False  # write a result that misses its budget, marked failed

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise InputError(
                f"precision {self.precision!r} does not apply to a decoder (KV-cache) bundle; "
                f"choose one of {sorted(PRECISIONS)}"
            )
        if self.form not in FORMS:
            raise InputError(f"--format must be one of {FORMS}, got {self.form!r}")
        if self.precision == "int4-weight" and self.form == "tensorrt":
            raise InputError(
                "TensorRT 10.3 has no INT4 weight form it parses (blocked INT4 DequantizeLinear "
                "needs ONNX opset 21; TensorRT 10.3 reads opsets 9-20): use --precision "
                "int8-weight --format tensorrt, or --format ort for ONNX Runtime"
            )
        if self.block_size < 16 or self.block_size & (self.block_size - 1):
            raise InputError(f"block size must be a power of 2 >= 16, got {self.block_size}")
        if self.min_tokens is not None and not 0 <= self.min_tokens <= 1:
            raise InputError(f"min_tokens must be in [0, 1], got {self.min_tokens}")

    @property
    def label(self) -> str:
        return self.precision if self.precision == "fp16" else f"{self.precision}-{self.form}"


def matmul_nbits(model, bits: int, block_size: int):
    """ORT's MatMulNBits form of every constant-weight MatMul (symmetric, QOperator)."""
    from onnxruntime.quantization import QuantFormat
    from onnxruntime.quantization.matmul_nbits_quantizer import (
        DefaultWeightOnlyQuantConfig,
        MatMulNBitsQuantizer,
    )

    algo = DefaultWeightOnlyQuantConfig(
        block_size=block_size,
        is_symmetric=True,
        quant_format=QuantFormat.QOperator,
        op_types_to_quantize=("MatMul",),
        bits=bits,
    )
    level = logging.getLogger("onnxruntime.quantization").level
    logging.getLogger("onnxruntime.quantization").setLevel(logging.ERROR)
    try:
        quantizer = MatMulNBitsQuantizer(
            model,
            bits=bits,
            block_size=block_size,
            is_symmetric=True,
            op_types_to_quantize=("MatMul",),
            algo_config=algo,
        )
        quantizer.process()
    finally:
        logging.getLogger("onnxruntime.quantization").setLevel(level)
    return quantizer.model.model


def int8_weight_dq(model):
    """W8A16 for TensorRT: each constant MatMul weight [K, N] -> INT8 per output channel (the
    last axis) + DequantizeLinear (zero point 0) -> the same MatMul. Opset unchanged."""
    from onnx import helper, numpy_helper

    from vla_edge.compress.quantize.qdq import weight_qparams

    inits = {t.name: t for t in model.graph.initializer}
    consumers: dict[str, int] = {}
    for node in model.graph.node:
        for i in node.input:
            consumers[i] = consumers.get(i, 0) + 1
    nodes = []
    for node in model.graph.node:
        w = inits.get(node.input[1]) if node.op_type == "MatMul" else None
        if w is None or len(w.dims) != 2 or consumers[w.name] != 1:
            nodes.append(node)
            continue
        q, scale = weight_qparams(numpy_helper.to_array(w).astype(np.float32), axis=1)
        base = w.name
        model.graph.initializer.remove(w)
        model.graph.initializer.extend(
            [
                numpy_helper.from_array(q.astype(np.int8), f"{base}_int8"),
                numpy_helper.from_array(scale.astype(np.float32), f"{base}_scale"),
                numpy_helper.from_array(np.zeros_like(scale, np.int8), f"{base}_zero"),
            ]
        )
        nodes.append(
            helper.make_node(
                "DequantizeLinear",
                [f"{base}_int8", f"{base}_scale", f"{base}_zero"],
                [base],
                name=f"{node.name}_weight_DequantizeLinear",
                axis=1,
            )
        )
        nodes.append(node)
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    return model


def transform(model, role: str, config: WeightOnlyConfig, feeds: list[dict]):
    """The quantized form of one graph (vision_encoder: FP16 only)."""
    bits = PRECISIONS[config.precision]
    if bits == 16:
        from vla_edge.compress.quantize.fp16 import to_fp16

        return to_fp16(model, feeds).model
    if role not in DECODER_ROLES:
        return model
    if config.form == "ort":
        return matmul_nbits(model, bits, config.block_size)
    return int8_weight_dq(model)


def judge(parent, paths: dict[str, Path], config: WeightOnlyConfig, tokenizer) -> dict:
    """Decode the parent's and the candidate's graphs with ONNX Runtime on the same held-out
    observations; identical tokens, sequences, and the action error in units."""
    from vla_edge.backends.onnxrt import OnnxRuntimeRunner, SessionFromOnnx
    from vla_edge.export.kv_parity import decode_with, parity_samples, token_report
    from vla_edge.export.parity import compare
    from vla_edge.policy.autoregressive.tokens import ActionTokenizer

    spec = parent.spec
    feeds, texts, tok, _, _, info = parity_samples(
        spec, tokenizer, config.samples, config.data, config.seed
    )

    def run(files: dict[str, Path]) -> np.ndarray:
        runners = {r: OnnxRuntimeRunner(SessionFromOnnx(p)) for r, p in files.items()}
        return decode_with(runners, spec, feeds, texts, tok)

    ref = run({g["role"]: parent.path / g["file"] for g in parent.graphs})
    cand = run(paths)
    a = spec.action
    detok = ActionTokenizer(a.low, a.high, a.bins)

    def actions(b):
        return detok.from_bins(b.reshape(-1, a.chunk, a.dim))

    report = compare(
        {"actions": actions(ref)}, {"actions": actions(cand)}, spec, raise_on_fail=False
    ).to_dict()
    report.update(reference="fp32 parent (onnxrt)", candidate=config.label)
    report["tokens"] = token_report(ref, cand)
    report["observations"] = info
    budget = config.budget or Budget.default(spec)  # the one judge, on the decoded actions
    report["budget"] = budget_judge(actions(ref), actions(cand), spec, budget).to_dict()
    return report


def check_budget(report: dict, config: WeightOnlyConfig) -> list[str]:
    """The reasons the result misses its budget (identical tokens, the action budget); a
    ParityError unless `keep_failed`, which returns them for the failed mark."""
    reasons = list(report.get("budget", {}).get("reasons", []))
    got = report["tokens"]["identical_tokens"]
    if config.min_tokens is not None and got < config.min_tokens:
        reasons.insert(0, f"identical action tokens {got:.1%} < {config.min_tokens:.1%}")
    if reasons and not config.keep_failed:
        raise ParityError(
            f"{config.label} misses its budget on {report['tokens']['samples']} held-out "
            f"observations: {'; '.join(reasons)}; nothing written (try int8-weight or a smaller "
            "block size; --keep-failed writes it, marked failed)"
        )
    return reasons


def quantize_decoder(
    bundle: str | Path, out: str | Path, config: WeightOnlyConfig, force: bool = False
):
    """A KV-cache bundle -> its weight-only INT8/INT4 (or FP16) bundle, judged against it."""
    import shutil

    from vla_edge.bundle import Bundle, BundleWriter, mark_failed, new_manifest
    from vla_edge.export.onnx_export import load_onnx, save_onnx
    from vla_edge.policy.tokenizer import load_tokenizer

    parent = Bundle.load(bundle)
    if parent.layout != "kv-cache":
        raise BundleError(
            f"{parent.path} is a {parent.layout} bundle: weight-only decoder quantization needs "
            "a KV-cache bundle (an exported `--head ar` model); use --precision int8 or fp16"
        )
    if parent.precision != "fp32":
        raise BundleError(f"{parent.path} is already {parent.precision}: quantize its FP32 parent")
    spec = parent.spec
    tokenizer = load_tokenizer(
        spec.instruction.tokenizer, spec.instruction.max_tokens, parent.tokenizer_dir
    )
    feeds = _calibration_feeds(parent, config, tokenizer) if config.precision == "fp16" else {}
    with BundleWriter(out, force=force, inputs=(parent.path, config.data)) as writer:
        entries, paths = [], {}
        for g in parent.graphs:
            graph, _ = load_onnx(parent.path / g["file"])
            model = transform(graph, g["role"], config, feeds.get(g["role"], []))
            save_onnx(model, writer.path(g["file"]))  # external data above EXTERNAL_DATA_BYTES
            changed = config.precision == "fp16" or g["role"] in DECODER_ROLES
            entries.append({**g, "precision": config.label if changed else g["precision"]})
            paths[g["role"]] = writer.path(g["file"])
        report = judge(parent, paths, config, tokenizer)
        reasons = check_budget(report, config)
        if parent.tokenizer_dir is not None:
            shutil.copytree(parent.tokenizer_dir, writer.path("tokenizer"))
        settings = {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(config).items()}
        manifest = new_manifest(Path(out).name, spec, "quantize", settings, parent=parent)
        for key in ("preprocessing", "postprocessing", "decoding"):
            manifest[key] = parent.manifest.get(key)
        manifest["graphs"] = [
            {k: v for k, v in e.items() if k not in ("sha256", "size")} for e in entries
        ]
        manifest["validation"] = {"quantize": report}
        if reasons:  # only with keep_failed: inference refuses it without allow_failed
            mark_failed(manifest, "quantize", reasons)
        writer.finish(manifest)
    return Bundle.load(out)


def _calibration_feeds(parent, config, tokenizer) -> dict[str, list[dict]]:
    """Feeds each graph sees in one decode of the parent (for the FP16 overflow scan)."""
    from vla_edge.backends.onnxrt import OnnxRuntimeRunner, SessionFromOnnx
    from vla_edge.export.kv_parity import Recorder, decode_with, parity_samples

    feeds, texts, tok, *_ = parity_samples(parent.spec, tokenizer, 8, config.data, config.seed)
    rec = {
        g["role"]: Recorder(OnnxRuntimeRunner(SessionFromOnnx(parent.path / g["file"])))
        for g in parent.graphs
    }
    decode_with(rec, parent.spec, feeds, texts, tok)
    return {role: [r.feeds] for role, r in rec.items() if r.feeds is not None}
