#!/usr/bin/env bash
# Build the vla-edge CUDA kernels and TensorRT plugins on the Orin with JetPack's toolchain
# (nvcc from CUDA 12.6, TensorRT 10.3 headers in /usr/include/aarch64-linux-gnu), for sm_87.
# Output: kernels/build/{libvla_kernels_cuda.so,libvla_kernels_host.so,libvla_edge_plugins.so}
# Then: export VLA_EDGE_KERNELS_LIB=$PWD/kernels/build/libvla_kernels_cuda.so
#       export VLA_EDGE_PLUGIN_LIB=$PWD/kernels/build/libvla_edge_plugins.so
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/cuda/bin:$PATH"
arch="${CUDA_ARCHS:-87}"
nvcc="$(command -v nvcc || true)"
[[ -n "$nvcc" ]] || { echo "build_kernels: nvcc not found (install CUDA 12.6 from JetPack)" >&2; exit 2; }

cmake -S kernels -B kernels/build -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_CUDA_COMPILER="$nvcc" -DCMAKE_CUDA_ARCHITECTURES="$arch" \
    ${TENSORRT_ROOT:+-DTENSORRT_ROOT="$TENSORRT_ROOT"}
cmake --build kernels/build -j "$(nproc)"

for lib in libvla_kernels_cuda.so libvla_kernels_host.so; do
    [[ -f "kernels/build/$lib" ]] || { echo "build_kernels: $lib missing" >&2; exit 1; }
done
if [[ -f kernels/build/libvla_edge_plugins.so ]]; then
    echo "build_kernels: plugins: $PWD/kernels/build/libvla_edge_plugins.so"
    nm -D --defined-only kernels/build/libvla_edge_plugins.so | grep -q getCreators \
        || { echo "build_kernels: getCreators not exported" >&2; exit 1; }
else
    echo "build_kernels: TensorRT headers not found: plugin library not built" >&2
    [[ -f /etc/nv_tegra_release ]] && exit 1
fi
echo "export VLA_EDGE_KERNELS_LIB=$PWD/kernels/build/libvla_kernels_cuda.so"
echo "export VLA_EDGE_PLUGIN_LIB=$PWD/kernels/build/libvla_edge_plugins.so"
