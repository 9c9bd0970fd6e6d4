// Shared __host__ __device__ helpers of the vla-edge kernels.
//
// The same headers compile as CUDA (nvcc, device code) and as plain C++ (the host build that the
// tests run through ctypes). Arithmetic goes through VLA_ADD/VLA_MUL: on the device they are
// __fadd_rn/__fmul_rn, which nvcc never contracts into FMA, so the GPU rounds exactly like the
// host build (compiled with -ffp-contract=off) and like the NumPy reference: results are
// bit-identical on all three, not merely close.
#pragma once

#include <stdint.h>

#if defined(__CUDACC__)
#include <cuda_fp16.h>
#define VLA_HD __host__ __device__ __forceinline__
#else
#include <math.h>
#include <string.h>
#define VLA_HD inline
#endif

#if defined(__CUDA_ARCH__)
#define VLA_ADD(a, b) __fadd_rn((a), (b))
#define VLA_SUB(a, b) __fsub_rn((a), (b))
#define VLA_MUL(a, b) __fmul_rn((a), (b))
#else
#define VLA_ADD(a, b) ((a) + (b))
#define VLA_SUB(a, b) ((a) - (b))
#define VLA_MUL(a, b) ((a) * (b))
#endif

namespace vla {

VLA_HD float clampf(float v, float lo, float hi) { return fminf(fmaxf(v, lo), hi); }

VLA_HD int clampi(int v, int lo, int hi) { return v < lo ? lo : (v > hi ? hi : v); }

// float -> IEEE half bits, round to nearest even (what __float2half_rn and numpy's
// astype(float16) do). The host path is written out so the host build needs no CUDA headers.
VLA_HD uint16_t float_to_half_bits(float f) {
#if defined(__CUDA_ARCH__)
    return __half_as_ushort(__float2half_rn(f));
#else
    uint32_t x;
    memcpy(&x, &f, sizeof x);
    uint32_t sign = (x >> 16) & 0x8000u;
    uint32_t ax = x & 0x7fffffffu;
    if (ax > 0x7f800000u) return (uint16_t)(sign | 0x7e00u);   // NaN -> quiet NaN
    if (ax >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u);  // >= 65520 (and inf) -> inf
    if (ax < 0x38800000u) {                                    // |f| < 2^-14: half subnormal
        if (ax < 0x33000000u) return (uint16_t)sign;           // < 2^-25 -> +-0
        uint32_t e = ax >> 23, m = (ax & 0x7fffffu) | 0x800000u;
        uint32_t shift = 126u - e, h = m >> shift;
        uint32_t rem = m & ((1u << shift) - 1u), halfway = 1u << (shift - 1u);
        if (rem > halfway || (rem == halfway && (h & 1u))) ++h;
        return (uint16_t)(sign | h);
    }
    uint32_t h = (ax - 0x38000000u) >> 13;  // rebias exponent 127 -> 15, keep 10 mantissa bits
    uint32_t rem = ax & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (h & 1u))) ++h;  // carry may bump the exponent
    return (uint16_t)(sign | h);
#endif
}

VLA_HD float half_bits_to_float(uint16_t h) {
#if defined(__CUDA_ARCH__)
    return __half2float(__ushort_as_half(h));
#else
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 0x1fu, m = h & 0x3ffu, x;
    if (e == 0x1fu) {
        x = sign | 0x7f800000u | (m << 13);
    } else if (e != 0) {
        x = sign | ((e + 112u) << 23) | (m << 13);
    } else if (m == 0) {
        x = sign;
    } else {  // subnormal half: normalize
        e = 113u;
        while (!(m & 0x400u)) { m <<= 1; --e; }
        x = sign | (e << 23) | ((m & 0x3ffu) << 13);
    }
    float f;
    memcpy(&f, &x, sizeof f);
    return f;
#endif
}

}  // namespace vla
