"""What TensorRT 10.3's ONNX parser accepts (JetPack 6.1/6.2), as data.

Source: onnx-tensorrt `docs/operators.md` of release 10.1 and the parser changelog for 10.2 and
10.3 (10.2: error handling, GRU/Squeeze importer changes; 10.3: `Slice` accepts tensor `axes`,
`ScatterElements` uses an updated plugin). Tensor `axes` for `Pad` and the window operators
(`BlackmanWindow`, `HammingWindow`, `HannWindow`) only arrive in 10.4, `STFT` in 10.5, so they
are refused here. Opsets 9..20 of the default domain are supported.

Types are the data types of the operator's main (first) input. UINT8 may only be a network
input or output; INT8, INT4 and FP8 exist only behind QuantizeLinear / DequantizeLinear.
"""

from __future__ import annotations

from dataclasses import dataclass

TRT_VERSION = "10.3"
MIN_OPSET, MAX_OPSET = 9, 20

_F = ("FP32", "FP16", "BF16")
_FI = (*_F, "INT32", "INT64")
_FIB = (*_FI, "BOOL")
_B = ("BOOL",)

# op -> (types of its first input, restriction that the checker verifies or reports)
_GROUPS: dict[tuple[str, ...], str] = {
    _F: (
        "Acos Acosh Asin Asinh Atan Atanh BatchNormalization Ceil Celu Clip Conv ConvTranspose "
        "Cos Cosh Elu Erf Exp Floor GlobalAveragePool GlobalLpPool GlobalMaxPool "
        "GroupNormalization "
        "HardSigmoid HardSwish ImageScaler InstanceNormalization IsInf LeakyRelu Log LogSoftmax "
        "LRN LpNormalization MatMul MeanVarianceNormalization ParametricSoftplus Pow PRelu "
        "RandomNormal RandomNormalLike RandomUniform RandomUniformLike Reciprocal Round "
        "ScaledTanh Scan Selu Sigmoid Sin Sinh Softmax Softplus Softsign Sqrt Tan Tanh "
        "ThresholdedRelu Upsample Gemm Einsum Hardmax Dropout CumSum RNN GRU LSTM "
        "AveragePool MaxPool LpPool LayerNormalization Resize QuantizeLinear"
    ),
    ("FP32", "FP16"): "DeformConv GridSample Mish NonMaxSuppression NonZero RoiAlign",
    _FI: (
        "Abs Add ArgMax ArgMin DepthToSpace Div Equal Greater GreaterOrEqual IsNaN Less "
        "LessOrEqual Max Min Mod Mul Neg Range Relu Scatter ScatterElements ScatterND Shrink "
        "Sign SpaceToDepth Sub Sum TopK ReduceL1 ReduceL2 ReduceLogSum ReduceLogSumExp "
        "ReduceMax ReduceMean ReduceMin ReduceProd ReduceSum ReduceSumSquare Pad"
    ),
    _FIB: (
        "Concat Constant ConstantOfShape Expand EyeLike Flatten Gather GatherElements GatherND "
        "Identity If Loop OneHot Reshape ReverseSequence Shape Size Slice Split Squeeze Tile "
        "Transpose Trilu Unsqueeze Where"
    ),
    (*_FIB, "UINT8"): "Cast CastLike",
    ("FP32", "FP16", "BF16", "FP8", "INT32", "INT64"): "Mean",
    (*_F, "INT8", "INT32", "INT64"): "Gelu",
    _B: "And Not Or Xor",
    ("INT8", "FP8", "INT4"): "DequantizeLinear",
}

RESTRICTIONS: dict[str, str] = {
    "AveragePool": "2D or 3D pooling only; `dilations` empty or all ones",
    "MaxPool": "2D or 3D pooling only; no `Indices` output; `dilations` empty or all ones",
    "LpPool": "`dilations` empty or all ones",
    "Constant": "`sparse_value`, `value_string` and `value_strings` are unsupported",
    "CumSum": "`axis` must be an initializer",
    "Dropout": "`training_mode` must be an initializer that is False",
    "EyeLike": "input must have static dimensions",
    "Hardmax": "the `axis` dimension must be a build-time constant",
    "If": "both branches' outputs must have the same rank and different names",
    "LayerNormalization": "only the first output `Y` is supported",
    "Loop": "scan output length cannot be dynamic; carried shapes must not change",
    "LSTM": "`input_forget` and `layout` must be 0",
    "OneHot": "`depth` must be a build-time constant",
    "Pad": "`axes` must be an initializer (tensor axes arrive in TensorRT 10.4)",
    "QuantizeLinear": "`y_zero_point` must be 0 (symmetric, signed)",
    "DequantizeLinear": "`x_zero_point` must be 0 (symmetric, signed)",
    "Resize": (
        "modes nearest/linear only (no cubic); no antialias; aspect policy `stretch`; "
        "transformation modes half_pixel, pytorch_half_pixel, tf_half_pixel_for_nn, asymmetric, "
        "align_corners"
    ),
    "ScatterND": "`reduction` is not supported",
    "Squeeze": "`axes` must be an initializer",
    "Unsqueeze": "`axes` must be a constant tensor",
    "TopK": "`sorted` must be 1; K < 3840",
    "GridSample": "input must be 4D",
    **{
        f"Reduce{k}": "`axes` must be an initializer"
        for k in (
            "L1",
            "L2",
            "LogSum",
            "LogSumExp",
            "Max",
            "Mean",
            "Min",
            "Prod",
            "Sum",
            "SumSquare",
        )
    },
}

_UNSUPPORTED_WORDS = (
    "AffineGrid Bernoulli BitShift BitwiseAnd BitwiseNot BitwiseOr BitwiseXor "
    "BlackmanWindow Col2Im CenterCropPad Compress ConcatFromSequence ConvInteger DFT Det "
    "DynamicQuantizeLinear HammingWindow HannWindow ImageDecoder MatMulInteger MaxRoiPool "
    "MaxUnpool MelWeightMatrix Multinomial NegativeLogLikelihoodLoss Optional "
    "OptionalGetElement OptionalHasElement QLinearConv QLinearMatMul RegexFullMatch STFT "
    "SequenceAt SequenceConstruct SequenceEmpty SequenceErase SequenceInsert SequenceLength "
    "SequenceMap SoftmaxCrossEntropyLoss SplitToSequence StringConcat StringNormalizer "
    "StringSplit TfIdfVectorizer Unique Attention RMSNormalization RotaryEmbedding"
)
UNSUPPORTED = frozenset(_UNSUPPORTED_WORDS.split())

# What to do instead of an unsupported op (the check prints it as the fix).
FIXES: dict[str, str] = {
    "DynamicQuantizeLinear": "TensorRT has no dynamic quantization: use static QDQ "
    "(`vla-edge quantize --precision int8 --calib ...`) or keep the graph FP16",
    "MatMulInteger": "export QDQ (QuantizeLinear/DequantizeLinear around MatMul) instead of "
    "integer ops: `vla-edge quantize --precision int8 --calib ...`",
    "ConvInteger": "export QDQ instead of integer ops",
    "QLinearMatMul": "export QDQ format (onnxruntime quant_format=QDQ), not QOperator",
    "QLinearConv": "export QDQ format (onnxruntime quant_format=QDQ), not QOperator",
    "Attention": "opset 23 emits `Attention`; export at opset 17 so attention is MatMul/Softmax",
    "RMSNormalization": "opset 23 op: export at opset 17",
    "RotaryEmbedding": "opset 23 op: export at opset 17",
    "Unique": "compute it outside the graph (data-dependent shapes)",
    "STFT": "needs TensorRT 10.5: compute it on the host or in a plugin",
}

# Our own TensorRT plugins (kernels/plugins): an ONNX node with this op_type is imported as the
# plugin when the plugin library is loaded (`vla-edge build` loads it).
PLUGIN_OPS = {"VlaPreprocess": "1", "VlaActionDecode": "1"}

# Ops that only read a tensor's shape or convert its type: any input dtype is fine.
DTYPE_AGNOSTIC = frozenset({"Shape", "Size", "Cast", "CastLike", "Identity"})


@dataclass(frozen=True)
class OpSupport:
    op: str
    supported: bool
    types: tuple[str, ...] = ()
    restriction: str = ""
    fix: str = ""


def _build_table() -> dict[str, OpSupport]:
    table: dict[str, OpSupport] = {}
    for types, ops in _GROUPS.items():
        for op in ops.split():
            table[op] = OpSupport(op, True, types, RESTRICTIONS.get(op, ""))
    for op in UNSUPPORTED:
        table[op] = OpSupport(op, False, fix=FIXES.get(op, ""))
    return table


TABLE = _build_table()


def op_support(op_type: str, domain: str = "") -> OpSupport:
    """Support of one ONNX op (default domain) in TensorRT 10.3's parser."""
    if op_type in PLUGIN_OPS:
        return OpSupport(op_type, True, restriction="needs the vla-edge plugin library")
    if domain not in ("", "ai.onnx"):
        return OpSupport(
            op_type,
            False,
            fix=f"ops of domain {domain!r} (e.g. onnxruntime's fused contrib ops) are not "
            "TensorRT ops: export without ORT graph optimizations, or write a plugin",
        )
    if op_type in TABLE:
        return TABLE[op_type]
    return OpSupport(
        op_type,
        False,
        fix="not in TensorRT 10.3's ONNX operator list: rewrite it with "
        "supported ops or implement it as an IPluginV3 plugin",
    )
