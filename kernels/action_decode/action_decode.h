// Action decode for `bins` heads, in one pass: per action dimension, argmax over the bins
// (first maximum wins, like numpy/torch argmax; NaN logits are skipped) -> bin centre
// (bin_low + (i + 0.5) * bin_width) -> de-normalize (* std + mean) -> clamp to [low, high].
// Input logits [rows, bins] with rows = batch * chunk * dims (FP32 or FP16); output [rows] FP32.
#pragma once

#include <stdint.h>

#define VLA_MAX_ACTION_DIMS 32

#ifdef __cplusplus
extern "C" {
#endif

typedef struct VlaDecodeParams {
    int32_t dims;       // action dimensions (<= VLA_MAX_ACTION_DIMS); row r has dim r % dims
    int32_t bins;       // bins per dimension
    int32_t logits_f16; // 1: logits are IEEE half, 0: float
    int32_t _pad;
    float bin_low[VLA_MAX_ACTION_DIMS];
    float bin_width[VLA_MAX_ACTION_DIMS];
    float mean[VLA_MAX_ACTION_DIMS];
    float std[VLA_MAX_ACTION_DIMS];
    float low[VLA_MAX_ACTION_DIMS];
    float high[VLA_MAX_ACTION_DIMS];
} VlaDecodeParams;

// CPU: the same math as the kernel. Writes actions[rows] and, if not null, indices[rows].
int vla_action_decode_host(const void* logits, int64_t rows, const VlaDecodeParams* p,
                           float* actions, int32_t* indices);

// GPU: one warp per row, launched on `stream`. Returns a cudaError_t value or -1.
int vla_action_decode_launch(const void* logits, int64_t rows, const VlaDecodeParams* p,
                             float* actions, int32_t* indices, void* stream);

#ifdef __cplusplus
}
#endif
