// TensorRT plugin "VlaActionDecode" (version 1): logits [..., dims, bins] FP32/FP16 ->
// actions [..., dims] FP32, fused argmax -> bin centre -> de-normalize -> clamp.
// ONNX: a node of op_type VlaActionDecode with attributes bins (int), dims (int) and float
// lists bin_low, bin_width, mean, std, low, high (dims values each).
#include "../action_decode/action_decode.h"
#include "plugin_common.h"

namespace vla_plugins {

class ActionDecodePlugin : public PluginBase {
public:
    static constexpr char const* kName = "VlaActionDecode";

    static std::vector<FieldName> fieldNames() {
        std::vector<FieldName> out{{"bins", PluginFieldType::kINT32, 1},
                                   {"dims", PluginFieldType::kINT32, 1}};
        for (char const* n : {"bin_low", "bin_width", "mean", "std", "low", "high"})
            out.push_back({n, PluginFieldType::kFLOAT32, VLA_MAX_ACTION_DIMS});
        return out;
    }

    explicit ActionDecodePlugin(Fields const& f) {
        std::memset(&p_, 0, sizeof p_);
        p_.bins = f.i("bins");
        p_.dims = f.i("dims");
        int n = p_.dims > 0 && p_.dims <= VLA_MAX_ACTION_DIMS ? p_.dims : 0;
        f.floats("bin_low", p_.bin_low, n, 0.0f);
        f.floats("bin_width", p_.bin_width, n, 0.0f);
        f.floats("mean", p_.mean, n, 0.0f);
        f.floats("std", p_.std, n, 1.0f);
        f.floats("low", p_.low, n, -3.0e38f);
        f.floats("high", p_.high, n, 3.0e38f);
    }

    bool valid() const { return p_.bins > 0 && p_.dims > 0 && p_.dims <= VLA_MAX_ACTION_DIMS; }

    IPluginV3* clone() noexcept override { return new ActionDecodePlugin(*this); }
    char const* getPluginName() const noexcept override { return kName; }

    int32_t getOutputDataTypes(DataType* out, int32_t, DataType const*, int32_t) const noexcept override {
        out[0] = DataType::kFLOAT;
        return 0;
    }

    int32_t getOutputShapes(DimsExprs const* in, int32_t nbIn, DimsExprs const*, int32_t,
                            DimsExprs* out, int32_t, IExprBuilder&) noexcept override {
        if (nbIn != 1 || in[0].nbDims < 2) return -1;
        out[0].nbDims = in[0].nbDims - 1;  // drop the bins axis
        for (int32_t k = 0; k < out[0].nbDims; ++k) out[0].d[k] = in[0].d[k];
        return 0;
    }

    bool supportsFormatCombination(int32_t pos, DynamicPluginTensorDesc const* io, int32_t,
                                   int32_t) noexcept override {
        PluginTensorDesc const& d = io[pos].desc;
        if (d.format != TensorFormat::kLINEAR) return false;
        return pos == 0 ? (d.type == DataType::kFLOAT || d.type == DataType::kHALF)
                        : d.type == DataType::kFLOAT;
    }

    int32_t enqueue(PluginTensorDesc const* inDesc, PluginTensorDesc const*, void const* const* inputs,
                    void* const* outputs, void*, cudaStream_t stream) noexcept override {
        VlaDecodeParams p = p_;
        p.logits_f16 = inDesc[0].type == DataType::kHALF ? 1 : 0;
        int64_t rows = volume(inDesc[0].dims) / p.bins;
        return vla_action_decode_launch(inputs[0], rows, &p, static_cast<float*>(outputs[0]),
                                        nullptr, stream) == 0 ? 0 : -1;
    }

    PluginFieldCollection const* getFieldsToSerialize() noexcept override {
        writer_ = FieldWriter();
        writer_.add_int("bins", p_.bins);
        writer_.add_int("dims", p_.dims);
        writer_.add_floats("bin_low", p_.bin_low, p_.dims);
        writer_.add_floats("bin_width", p_.bin_width, p_.dims);
        writer_.add_floats("mean", p_.mean, p_.dims);
        writer_.add_floats("std", p_.std, p_.dims);
        writer_.add_floats("low", p_.low, p_.dims);
        writer_.add_floats("high", p_.high, p_.dims);
        return writer_.collection();
    }

private:
    VlaDecodeParams p_{};
    FieldWriter writer_;
};

IPluginCreatorInterface* actionDecodeCreator() {
    static Creator<ActionDecodePlugin> creator;
    return &creator;
}

}  // namespace vla_plugins
