// The per-pixel math of the fused preprocessing, shared by the CUDA kernel, the host build and
// the TensorRT plugin. Operation order is fixed (and mirrored by the NumPy reference in
// vla_edge/kernels/preprocess.py) so all three agree bit for bit.
#pragma once

#include "../include/vla_edge/hd.cuh"
#include "preprocess.h"

namespace vla {

struct YuvCoeffs {
    float ky, y_off, rv, gu, gv, bu;
};

// R = ky (Y - y_off) + rv V';  G = ky (Y - y_off) - gu U' - gv V';  B = ky (Y - y_off) + bu U'
// with U' = U - 128, V' = V - 128. Limited range: ky = 255/219; full range: ky = 1.
VLA_HD YuvCoeffs yuv_coeffs(int colorspace) {
    if (colorspace == VLA_BT709_LIMITED)
        return YuvCoeffs{1.164383f, 16.0f, 1.792741f, 0.213249f, 0.532909f, 2.112402f};
    if (colorspace == VLA_BT601_FULL)
        return YuvCoeffs{1.0f, 0.0f, 1.402f, 0.344136f, 0.714136f, 1.772f};
    return YuvCoeffs{1.164383f, 16.0f, 1.596027f, 0.391762f, 0.812968f, 2.017232f};
}

VLA_HD void yuv_to_rgb(float y, float u, float v, const YuvCoeffs& c, float rgb[3]) {
    float yy = VLA_MUL(c.ky, VLA_SUB(y, c.y_off));
    float uu = VLA_SUB(u, 128.0f), vv = VLA_SUB(v, 128.0f);
    rgb[0] = clampf(VLA_ADD(yy, VLA_MUL(c.rv, vv)), 0.0f, 255.0f);
    rgb[1] = clampf(VLA_SUB(VLA_SUB(yy, VLA_MUL(c.gu, uu)), VLA_MUL(c.gv, vv)), 0.0f, 255.0f);
    rgb[2] = clampf(VLA_ADD(yy, VLA_MUL(c.bu, uu)), 0.0f, 255.0f);
}

// RGB (0..255 floats) of source pixel (x, y) of one frame.
VLA_HD void load_rgb(const uint8_t* frame, const VlaPreprocessParams& p, int x, int y,
                     float rgb[3]) {
    const uint8_t* row = frame + (int64_t)y * p.src_stride;
    switch (p.format) {
        case VLA_RGB8:
        case VLA_BGR8:
        case VLA_RGBA8:
        case VLA_BGRA8: {
            int bpp = p.format >= VLA_RGBA8 ? 4 : 3;
            const uint8_t* px = row + x * bpp;
            bool bgr = p.format == VLA_BGR8 || p.format == VLA_BGRA8;
            rgb[0] = px[bgr ? 2 : 0];
            rgb[1] = px[1];
            rgb[2] = px[bgr ? 0 : 2];
            return;
        }
        case VLA_NV12: {
            const uint8_t* uv = frame + p.uv_offset + (int64_t)(y >> 1) * p.uv_stride + (x >> 1) * 2;
            yuv_to_rgb(row[x], uv[0], uv[1], yuv_coeffs(p.colorspace), rgb);
            return;
        }
        default: {  // VLA_YUYV
            const uint8_t* pair = row + (x >> 1) * 4;
            yuv_to_rgb(pair[(x & 1) * 2], pair[1], pair[3], yuv_coeffs(p.colorspace), rgb);
            return;
        }
    }
}

// Source coordinate of output index d (half-pixel centres), split into i0, i1 and weight f.
VLA_HD void source_coord(int d, float scale, int size, int* i0, int* i1, float* f) {
    float s = VLA_SUB(VLA_MUL(VLA_ADD((float)d, 0.5f), scale), 0.5f);
    s = fmaxf(s, 0.0f);
    int i = clampi((int)floorf(s), 0, size - 1);
    *i0 = i;
    *i1 = i + 1 < size ? i + 1 : size - 1;
    *f = fminf(VLA_SUB(s, (float)i), 1.0f);
}

VLA_HD float lerp2(float a, float b, float f) {
    return VLA_ADD(VLA_MUL(a, VLA_SUB(1.0f, f)), VLA_MUL(b, f));
}

// Resized RGB (0..255 floats, not rounded) at output pixel (dx, dy).
VLA_HD void resized_rgb(const uint8_t* frame, const VlaPreprocessParams& p, int dx, int dy,
                        float rgb[3]) {
    int x0, x1, y0, y1;
    float fx, fy;
    source_coord(dx, p.scale_x, p.src_w, &x0, &x1, &fx);
    source_coord(dy, p.scale_y, p.src_h, &y0, &y1, &fy);
    float a[3], b[3], c[3], d[3];
    load_rgb(frame, p, x0, y0, a);
    load_rgb(frame, p, x1, y0, b);
    load_rgb(frame, p, x0, y1, c);
    load_rgb(frame, p, x1, y1, d);
    for (int ch = 0; ch < 3; ++ch)
        rgb[ch] = lerp2(lerp2(a[ch], b[ch], fx), lerp2(c[ch], d[ch], fx), fy);
}

// Write output pixel (dx, dy) of frame `n` in the requested layout.
VLA_HD void store_pixel(void* dst, const VlaPreprocessParams& p, int n, int dx, int dy,
                        const float rgb[3]) {
    int64_t plane = (int64_t)p.dst_w * p.dst_h, pix = (int64_t)dy * p.dst_w + dx;
    if (p.out_layout == VLA_NHWC_U8) {
        uint8_t* out = (uint8_t*)dst + (n * plane + pix) * 3;
        for (int ch = 0; ch < 3; ++ch)
            out[ch] = (uint8_t)clampf(floorf(VLA_ADD(rgb[ch], 0.5f)), 0.0f, 255.0f);
        return;
    }
    for (int ch = 0; ch < 3; ++ch) {
        float v = VLA_ADD(VLA_MUL(rgb[ch], p.norm_scale[ch]), p.norm_bias[ch]);
        int64_t at = ((int64_t)n * 3 + ch) * plane + pix;
        if (p.out_layout == VLA_NCHW_F16)
            ((uint16_t*)dst)[at] = float_to_half_bits(v);
        else
            ((float*)dst)[at] = v;
    }
}

VLA_HD bool params_ok(const VlaPreprocessParams& p) {
    bool yuv = p.format == VLA_NV12 || p.format == VLA_YUYV;
    return p.src_w > 0 && p.src_h > 0 && p.dst_w > 0 && p.dst_h > 0 && p.format >= 0 &&
           p.format <= VLA_YUYV && p.out_layout >= 0 && p.out_layout <= VLA_NHWC_U8 &&
           (!yuv || (p.src_w % 2 == 0 && (p.format != VLA_NV12 || p.src_h % 2 == 0))) &&
           p.src_stride > 0;
}

VLA_HD int64_t out_frame_bytes(const VlaPreprocessParams& p) {
    int64_t n = (int64_t)p.dst_w * p.dst_h * 3;
    return p.out_layout == VLA_NHWC_U8 ? n : n * (p.out_layout == VLA_NCHW_F16 ? 2 : 4);
}

}  // namespace vla
