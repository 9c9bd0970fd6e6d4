// Shared pieces of the vla-edge TensorRT plugins (IPluginV3, TensorRT 10.x; JetPack 6.1/6.2
// ships 10.3): a base class that wires the core/build/runtime capabilities together, and a
// small field store that reads PluginFieldCollections (ONNX node attributes: ints -> kINT32,
// floats -> kFLOAT32) and writes them back for serialization.
#pragma once

#include <NvInferRuntime.h>

#include <cstdint>
#include <cstring>
#include <map>
#include <string>
#include <vector>

namespace vla_plugins {

using namespace nvinfer1;

constexpr char const* kNamespace = "";
constexpr char const* kVersion = "1";

// Named numeric fields (stored as double, handed out as int32 or float arrays).
class Fields {
public:
    void read(PluginFieldCollection const* fc) {
        for (int32_t i = 0; fc && i < fc->nbFields; ++i) {
            PluginField const& f = fc->fields[i];
            std::vector<double>& out = values_[f.name];
            out.clear();
            for (int32_t k = 0; k < f.length; ++k) {
                if (f.type == PluginFieldType::kINT32)
                    out.push_back(static_cast<int32_t const*>(f.data)[k]);
                else if (f.type == PluginFieldType::kFLOAT32)
                    out.push_back(static_cast<float const*>(f.data)[k]);
                else if (f.type == PluginFieldType::kINT64)
                    out.push_back(static_cast<double>(static_cast<int64_t const*>(f.data)[k]));
                else if (f.type == PluginFieldType::kFLOAT64)
                    out.push_back(static_cast<double const*>(f.data)[k]);
            }
        }
    }

    bool has(std::string const& name, size_t n = 1) const {
        auto it = values_.find(name);
        return it != values_.end() && it->second.size() >= n;
    }

    int32_t i(std::string const& name, int32_t fallback = 0) const {
        return has(name) ? static_cast<int32_t>(values_.at(name)[0]) : fallback;
    }

    void floats(std::string const& name, float* out, size_t n, float fallback) const {
        for (size_t k = 0; k < n; ++k)
            out[k] = has(name, k + 1) ? static_cast<float>(values_.at(name)[k]) : fallback;
    }

private:
    std::map<std::string, std::vector<double>> values_;
};

// Serializable copy of a plugin's fields (int32 scalars and float arrays).
class FieldWriter {
public:
    void add_int(char const* name, int32_t value) {
        ints_.push_back(value);
        names_.emplace_back(name, PluginFieldType::kINT32, 1);
    }
    void add_floats(char const* name, float const* values, int32_t n) {
        floats_.emplace_back(values, values + n);
        names_.emplace_back(name, PluginFieldType::kFLOAT32, n);
    }
    PluginFieldCollection const* collection() {
        fields_.clear();
        size_t ii = 0, fi = 0;
        for (auto const& [name, type, n] : names_) {
            void const* data = type == PluginFieldType::kINT32 ? static_cast<void const*>(&ints_[ii++])
                                                               : floats_[fi++].data();
            fields_.emplace_back(name, data, type, n);
        }
        fc_.nbFields = static_cast<int32_t>(fields_.size());
        fc_.fields = fields_.data();
        return &fc_;
    }

private:
    struct Entry {
        Entry(char const* n, PluginFieldType t, int32_t l) : name(n), type(t), length(l) {}
        char const* name;
        PluginFieldType type;
        int32_t length;
    };
    std::vector<int32_t> ints_;
    std::vector<std::vector<float>> floats_;
    std::vector<Entry> names_;
    std::vector<PluginField> fields_;
    PluginFieldCollection fc_{0, nullptr};
};

// Core/build/runtime capabilities of a one-output plugin; subclasses fill in the math.
class PluginBase : public IPluginV3, public IPluginV3OneCore, public IPluginV3OneBuild,
                   public IPluginV3OneRuntime {
public:
    IPluginCapability* getCapabilityInterface(PluginCapabilityType type) noexcept override {
        if (type == PluginCapabilityType::kBUILD) return static_cast<IPluginV3OneBuild*>(this);
        if (type == PluginCapabilityType::kRUNTIME) return static_cast<IPluginV3OneRuntime*>(this);
        return static_cast<IPluginV3OneCore*>(this);
    }
    char const* getPluginVersion() const noexcept override { return kVersion; }
    char const* getPluginNamespace() const noexcept override { return kNamespace; }
    int32_t getNbOutputs() const noexcept override { return 1; }
    int32_t configurePlugin(DynamicPluginTensorDesc const*, int32_t, DynamicPluginTensorDesc const*,
                            int32_t) noexcept override {
        return 0;
    }
    int32_t onShapeChange(PluginTensorDesc const*, int32_t, PluginTensorDesc const*,
                          int32_t) noexcept override {
        return 0;
    }
    IPluginV3* attachToContext(IPluginResourceContext*) noexcept override { return clone(); }
};

// A creator for plugin type T (T(Fields const&) constructs it; T::kName and T::fieldNames()).
template <typename T>
class Creator : public IPluginCreatorV3One {
public:
    Creator() {
        for (auto const& [name, type, n] : T::fieldNames())
            attrs_.emplace_back(name, nullptr, type, n);
        fc_.nbFields = static_cast<int32_t>(attrs_.size());
        fc_.fields = attrs_.data();
    }
    char const* getPluginName() const noexcept override { return T::kName; }
    char const* getPluginVersion() const noexcept override { return kVersion; }
    char const* getPluginNamespace() const noexcept override { return kNamespace; }
    PluginFieldCollection const* getFieldNames() noexcept override { return &fc_; }
    IPluginV3* createPlugin(char const*, PluginFieldCollection const* fc,
                            TensorRTPhase) noexcept override {
        try {
            Fields fields;
            fields.read(fc);
            T* plugin = new T(fields);
            if (plugin->valid()) return plugin;
            delete plugin;
        } catch (...) {
        }
        return nullptr;
    }

private:
    std::vector<PluginField> attrs_;
    PluginFieldCollection fc_{0, nullptr};
};

struct FieldName {
    char const* name;
    PluginFieldType type;
    int32_t length;
};

inline int64_t volume(Dims const& d, int32_t from = 0, int32_t to = -1) {
    int64_t v = 1;
    for (int32_t k = from; k < (to < 0 ? d.nbDims : to); ++k) v *= d.d[k];
    return v;
}

}  // namespace vla_plugins
