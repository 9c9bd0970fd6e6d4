// Entry points TensorRT looks for in a plugin library: IPluginRegistry::loadLibrary() (Python:
// `registry.load_library(path)`, trtexec `--dynamicPlugins`) calls getCreators(); an
// application that dlopen()s the library itself can call initVlaEdgePlugins() instead.
#include "plugin_common.h"

namespace vla_plugins {
IPluginCreatorInterface* actionDecodeCreator();
IPluginCreatorInterface* preprocessCreator();
}  // namespace vla_plugins

#define VLA_EXPORT extern "C" __attribute__((visibility("default")))

VLA_EXPORT void setLoggerFinder(nvinfer1::ILoggerFinder*) {}

VLA_EXPORT nvinfer1::IPluginCreatorInterface* const* getCreators(int32_t& nbCreators) {
    static nvinfer1::IPluginCreatorInterface* const creators[] = {
        vla_plugins::actionDecodeCreator(), vla_plugins::preprocessCreator()};
    nbCreators = 2;
    return creators;
}

VLA_EXPORT bool initVlaEdgePlugins() {
    int32_t n = 0;
    nvinfer1::IPluginCreatorInterface* const* creators = getCreators(n);
    bool ok = true;
    for (int32_t i = 0; i < n; ++i)
        ok = getPluginRegistry()->registerCreator(*creators[i], vla_plugins::kNamespace) && ok;
    return ok;
}
