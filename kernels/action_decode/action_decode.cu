// CUDA kernel + launcher of the action decode (see action_decode.h). One warp per row: each
// lane scans bins lane, lane+32, ... then the warp reduces (value, index) pairs with the same
// tie rule as the host code, so the GPU picks the same bin as numpy.argmax.
#include <cuda_runtime.h>

#include "action_decode_math.cuh"

namespace {

constexpr int kWarpsPerBlock = 8;

__global__ void action_decode_kernel(const void* __restrict__ logits, int64_t rows,
                                     VlaDecodeParams p, float* __restrict__ actions,
                                     int32_t* __restrict__ indices) {
    int lane = threadIdx.x & 31;
    int64_t row = (int64_t)blockIdx.x * kWarpsPerBlock + (threadIdx.x >> 5);
    if (row >= rows) return;
    bool f16 = p.logits_f16 != 0;
    float best = -INFINITY;
    int best_i = 0x7fffffff;
    for (int i = lane; i < p.bins; i += 32)
        vla::max_update(vla::load_logit(logits, row * p.bins + i, f16), i, &best, &best_i);
    for (int offset = 16; offset > 0; offset >>= 1) {
        float other = __shfl_down_sync(0xffffffffu, best, offset);
        int other_i = __shfl_down_sync(0xffffffffu, best_i, offset);
        vla::max_update(other, other_i, &best, &best_i);
    }
    if (lane != 0) return;
    if (best_i == 0x7fffffff) best_i = 0;  // all-NaN row, as on the host
    int dim = (int)(row % p.dims);
    actions[row] = vla::decode_bin(best_i, dim, p);
    if (indices) indices[row] = best_i;
}

}  // namespace

extern "C" int vla_action_decode_launch(const void* logits, int64_t rows,
                                        const VlaDecodeParams* p, float* actions,
                                        int32_t* indices, void* stream) {
    if (!logits || !actions || !p || rows <= 0 || !vla::decode_params_ok(*p)) return -1;
    int64_t blocks = (rows + kWarpsPerBlock - 1) / kWarpsPerBlock;
    if (blocks > 0x7fffffff) return -1;
    action_decode_kernel<<<(unsigned)blocks, kWarpsPerBlock * 32, 0,
                           static_cast<cudaStream_t>(stream)>>>(logits, rows, *p, actions, indices);
    return static_cast<int>(cudaGetLastError());
}
