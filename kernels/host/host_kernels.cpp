// Host build of the kernels' math: the same __host__ __device__ headers compiled as C++ for the
// CPU, exposed through a C ABI so the Python tests (ctypes) can compare them with NumPy.
// Build: c++ -O2 -std=c++17 -ffp-contract=off -fPIC -shared host_kernels.cpp -o libvla_kernels_host.so
// (vla_edge.kernels.build does this on demand into a cache directory).
#include "../action_decode/action_decode_math.cuh"
#include "../preprocess/preprocess_math.cuh"

extern "C" {

int64_t vla_preprocess_out_frame_bytes(const VlaPreprocessParams* p) {
    return p ? vla::out_frame_bytes(*p) : -1;
}

int vla_preprocess_host(const uint8_t* src, int batch, const VlaPreprocessParams* p, void* dst) {
    if (!src || !dst || !p || batch <= 0 || !vla::params_ok(*p)) return -1;
    for (int n = 0; n < batch; ++n) {
        const uint8_t* frame = src + (int64_t)n * p->src_batch_stride;
        for (int dy = 0; dy < p->dst_h; ++dy) {
            for (int dx = 0; dx < p->dst_w; ++dx) {
                float rgb[3];
                vla::resized_rgb(frame, *p, dx, dy, rgb);
                vla::store_pixel(dst, *p, n, dx, dy, rgb);
            }
        }
    }
    return 0;
}

int vla_action_decode_host(const void* logits, int64_t rows, const VlaDecodeParams* p,
                           float* actions, int32_t* indices) {
    if (!logits || !actions || !p || rows <= 0 || !vla::decode_params_ok(*p)) return -1;
    bool f16 = p->logits_f16 != 0;
    for (int64_t row = 0; row < rows; ++row) {
        int index = vla::argmax_row(logits, row, p->bins, f16);
        actions[row] = vla::decode_bin(index, (int)(row % p->dims), *p);
        if (indices) indices[row] = index;
    }
    return 0;
}

// Lets the Python side check that it talks to a library built from the same headers.
int vla_kernels_abi_version(void) { return 1; }
int vla_preprocess_params_size(void) { return (int)sizeof(VlaPreprocessParams); }
int vla_decode_params_size(void) { return (int)sizeof(VlaDecodeParams); }

}  // extern "C"
