// Per-row math of the action decode, shared by the CUDA kernel, the host build and the plugin.
#pragma once

#include "../include/vla_edge/hd.cuh"
#include "action_decode.h"

namespace vla {

VLA_HD float load_logit(const void* logits, int64_t at, bool f16) {
    return f16 ? half_bits_to_float(((const uint16_t*)logits)[at]) : ((const float*)logits)[at];
}

// Running (value, index) maximum: a larger value wins; on a tie the smaller index wins. A NaN
// never compares greater, so NaN logits are skipped; an all-NaN row gives index 0.
VLA_HD void max_update(float v, int i, float* best, int* best_i) {
    if (v > *best || (v == *best && i < *best_i)) {
        *best = v;
        *best_i = i;
    }
}

VLA_HD int argmax_row(const void* logits, int64_t row, int bins, bool f16) {
    float best = -INFINITY;
    int best_i = 0;
    for (int i = 0; i < bins; ++i) max_update(load_logit(logits, row * bins + i, f16), i, &best, &best_i);
    return best_i;
}

// Bin index -> action in physical units, clamped.
VLA_HD float decode_bin(int index, int dim, const VlaDecodeParams& p) {
    float centre = VLA_ADD(p.bin_low[dim], VLA_MUL(VLA_ADD((float)index, 0.5f), p.bin_width[dim]));
    float value = VLA_ADD(VLA_MUL(centre, p.std[dim]), p.mean[dim]);
    return clampf(value, p.low[dim], p.high[dim]);
}

VLA_HD bool decode_params_ok(const VlaDecodeParams& p) {
    return p.dims > 0 && p.dims <= VLA_MAX_ACTION_DIMS && p.bins > 0;
}

}  // namespace vla
