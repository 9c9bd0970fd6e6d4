// TensorRT plugin "VlaPreprocess" (version 1): raw camera frames (UINT8, [B, ...] holding one
// frame of `format` per batch row: [B,H,W,3|4] packed, [B,H*3/2,W] NV12, [B,H,W,2] YUYV) ->
// normalized planar [B,3,dst_h,dst_w] FP32 (layout 0) or FP16 (layout 1) in one pass.
// ONNX attributes: src_w, src_h, dst_w, dst_h, format, colorspace, layout (ints; enums as in
// preprocess.h), mean, std (3 floats each, RGB, 0..1 scale).
// The UINT8 input must be a network input (TensorRT's rule for UINT8). Where a TensorRT
// release refuses UINT8 plugin inputs, run the same kernel before the engine instead
// (vla_edge.kernels.preprocess.preprocess_cuda on the runner's stream).
#include "../preprocess/preprocess.h"
#include "plugin_common.h"

namespace vla_plugins {

class PreprocessPlugin : public PluginBase {
public:
    static constexpr char const* kName = "VlaPreprocess";

    static std::vector<FieldName> fieldNames() {
        std::vector<FieldName> out;
        for (char const* n : {"src_w", "src_h", "dst_w", "dst_h", "format", "colorspace", "layout"})
            out.push_back({n, PluginFieldType::kINT32, 1});
        out.push_back({"mean", PluginFieldType::kFLOAT32, 3});
        out.push_back({"std", PluginFieldType::kFLOAT32, 3});
        return out;
    }

    explicit PreprocessPlugin(Fields const& f) {
        std::memset(&p_, 0, sizeof p_);
        p_.src_w = f.i("src_w");
        p_.src_h = f.i("src_h");
        p_.dst_w = f.i("dst_w");
        p_.dst_h = f.i("dst_h");
        p_.format = f.i("format");
        p_.colorspace = f.i("colorspace");
        p_.out_layout = f.i("layout");
        f.floats("mean", mean_, 3, 0.0f);
        f.floats("std", std_, 3, 1.0f);
        derive();
    }

    bool valid() const {
        return p_.src_w > 0 && p_.src_h > 0 && p_.dst_w > 0 && p_.dst_h > 0 && p_.format >= 0 &&
               p_.format <= VLA_YUYV && (p_.out_layout == VLA_NCHW_F32 || p_.out_layout == VLA_NCHW_F16) &&
               std_[0] > 0 && std_[1] > 0 && std_[2] > 0;
    }

    IPluginV3* clone() noexcept override { return new PreprocessPlugin(*this); }
    char const* getPluginName() const noexcept override { return kName; }

    int32_t getOutputDataTypes(DataType* out, int32_t, DataType const*, int32_t) const noexcept override {
        out[0] = p_.out_layout == VLA_NCHW_F16 ? DataType::kHALF : DataType::kFLOAT;
        return 0;
    }

    int32_t getOutputShapes(DimsExprs const* in, int32_t nbIn, DimsExprs const*, int32_t,
                            DimsExprs* out, int32_t, IExprBuilder& b) noexcept override {
        if (nbIn != 1 || in[0].nbDims < 2) return -1;
        out[0].nbDims = 4;
        out[0].d[0] = in[0].d[0];
        out[0].d[1] = b.constant(3);
        out[0].d[2] = b.constant(p_.dst_h);
        out[0].d[3] = b.constant(p_.dst_w);
        return 0;
    }

    bool supportsFormatCombination(int32_t pos, DynamicPluginTensorDesc const* io, int32_t,
                                   int32_t) noexcept override {
        PluginTensorDesc const& d = io[pos].desc;
        if (d.format != TensorFormat::kLINEAR) return false;
        if (pos == 0) return d.type == DataType::kUINT8;
        return d.type == (p_.out_layout == VLA_NCHW_F16 ? DataType::kHALF : DataType::kFLOAT);
    }

    int32_t enqueue(PluginTensorDesc const* inDesc, PluginTensorDesc const*, void const* const* inputs,
                    void* const* outputs, void*, cudaStream_t stream) noexcept override {
        int32_t batch = inDesc[0].dims.d[0];
        if (batch <= 0 || volume(inDesc[0].dims, 1) != p_.src_batch_stride) return -1;
        return vla_preprocess_launch(static_cast<uint8_t const*>(inputs[0]), batch, &p_, outputs[0],
                                     stream) == 0 ? 0 : -1;
    }

    PluginFieldCollection const* getFieldsToSerialize() noexcept override {
        writer_ = FieldWriter();
        writer_.add_int("src_w", p_.src_w);
        writer_.add_int("src_h", p_.src_h);
        writer_.add_int("dst_w", p_.dst_w);
        writer_.add_int("dst_h", p_.dst_h);
        writer_.add_int("format", p_.format);
        writer_.add_int("colorspace", p_.colorspace);
        writer_.add_int("layout", p_.out_layout);
        writer_.add_floats("mean", mean_, 3);
        writer_.add_floats("std", std_, 3);
        return writer_.collection();
    }

private:
    // Same derivation as vla_edge/kernels/preprocess.py (PreprocessConfig.params), in float.
    void derive() {
        int bpp = p_.format == VLA_RGB8 || p_.format == VLA_BGR8 ? 3 : (p_.format <= VLA_BGRA8 ? 4 : 1);
        if (p_.format == VLA_YUYV) bpp = 2;
        p_.src_stride = p_.src_w * bpp;
        p_.uv_offset = p_.src_h * p_.src_stride;
        p_.uv_stride = p_.src_stride;
        int64_t rows = p_.format == VLA_NV12 ? p_.src_h * 3 / 2 : p_.src_h;
        p_.src_batch_stride = rows * p_.src_stride;
        p_.scale_x = p_.dst_w > 0 ? static_cast<float>(static_cast<double>(p_.src_w) / p_.dst_w) : 1.0f;
        p_.scale_y = p_.dst_h > 0 ? static_cast<float>(static_cast<double>(p_.src_h) / p_.dst_h) : 1.0f;
        for (int c = 0; c < 3; ++c) {
            p_.norm_scale[c] = 1.0f / (255.0f * std_[c]);
            p_.norm_bias[c] = -mean_[c] / std_[c];
        }
    }

    VlaPreprocessParams p_{};
    float mean_[3]{}, std_[3]{1, 1, 1};
    FieldWriter writer_;
};

IPluginCreatorInterface* preprocessCreator() {
    static Creator<PreprocessPlugin> creator;
    return &creator;
}

}  // namespace vla_plugins
