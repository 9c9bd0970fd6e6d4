// CUDA kernel + launcher of the fused camera preprocessing (see preprocess.h).
// One thread per output pixel of one frame (grid z = batch). Memory bound: it reads at most
// four source pixels and writes three values, so the whole chain (colour, resize, normalize,
// layout) costs one read of the needed source pixels and one write of the network input.
#include <cuda_runtime.h>

#include "preprocess_math.cuh"

namespace {

__global__ void preprocess_kernel(const uint8_t* __restrict__ src, VlaPreprocessParams p,
                                  void* __restrict__ dst) {
    int dx = blockIdx.x * blockDim.x + threadIdx.x;
    int dy = blockIdx.y * blockDim.y + threadIdx.y;
    int n = blockIdx.z;
    if (dx >= p.dst_w || dy >= p.dst_h) return;
    const uint8_t* frame = src + (int64_t)n * p.src_batch_stride;
    float rgb[3];
    vla::resized_rgb(frame, p, dx, dy, rgb);
    vla::store_pixel(dst, p, n, dx, dy, rgb);
}

}  // namespace

extern "C" int64_t vla_preprocess_out_frame_bytes(const VlaPreprocessParams* p) {
    return p ? vla::out_frame_bytes(*p) : -1;
}

extern "C" int vla_preprocess_launch(const uint8_t* src, int batch, const VlaPreprocessParams* p,
                                     void* dst, void* stream) {
    if (!src || !dst || !p || batch <= 0 || batch > 65535 || !vla::params_ok(*p)) return -1;
    dim3 block(32, 8);
    dim3 grid((p->dst_w + block.x - 1) / block.x, (p->dst_h + block.y - 1) / block.y, batch);
    preprocess_kernel<<<grid, block, 0, static_cast<cudaStream_t>(stream)>>>(src, *p, dst);
    return static_cast<int>(cudaGetLastError());
}
