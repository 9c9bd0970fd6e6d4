// Camera frame -> network input, in one pass: unpack (RGB/BGR/RGBA/BGRA, NV12, YUYV), convert
// colour (YUV -> RGB, BT.601/BT.709 limited or BT.601 full range), bilinear resize (half-pixel
// centres, no antialias: cv2.INTER_LINEAR / torch interpolate(align_corners=False)), normalize
// ((rgb * norm_scale + norm_bias), i.e. (rgb/255 - mean)/std), and write planar NCHW FP32/FP16,
// or NHWC uint8 (resize + colour only) for graphs that normalize inside.
//
// This C header is shared by the CUDA launcher, the host build (ctypes) and the TensorRT plugin.
#pragma once

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum VlaPixelFormat {
    VLA_RGB8 = 0,
    VLA_BGR8 = 1,
    VLA_RGBA8 = 2,
    VLA_BGRA8 = 3,
    VLA_NV12 = 4,  // Y plane, then interleaved UV plane at uv_offset (2x2 subsampled)
    VLA_YUYV = 5,  // packed 4:2:2: Y0 U Y1 V (V4L2_PIX_FMT_YUYV)
};

enum VlaColorspace {
    VLA_BT601_LIMITED = 0,  // SD cameras, most USB webcams
    VLA_BT709_LIMITED = 1,  // HD CSI cameras through Argus / nvarguscamerasrc
    VLA_BT601_FULL = 2,     // JPEG / MJPEG
};

enum VlaOutLayout {
    VLA_NCHW_F32 = 0,
    VLA_NCHW_F16 = 1,
    VLA_NHWC_U8 = 2,  // rounded to nearest (half up), no normalization
};

typedef struct VlaPreprocessParams {
    int64_t src_batch_stride;  // bytes between consecutive frames of a batch
    int32_t src_w, src_h;
    int32_t src_stride;  // bytes per row (packed formats) or per Y row (NV12)
    int32_t uv_offset;   // NV12: bytes from the frame start to the UV plane
    int32_t uv_stride;   // NV12: bytes per UV row
    int32_t dst_w, dst_h;
    int32_t format;      // VlaPixelFormat
    int32_t colorspace;  // VlaColorspace (YUV formats only)
    int32_t out_layout;  // VlaOutLayout
    float scale_x, scale_y;  // src_w / dst_w, src_h / dst_h, rounded to float
    float norm_scale[3];     // per output channel (R, G, B)
    float norm_bias[3];
} VlaPreprocessParams;

// Bytes of one output frame.
int64_t vla_preprocess_out_frame_bytes(const VlaPreprocessParams* p);

// CPU: the same math as the kernel, one pixel at a time. Returns 0, or -1 on bad params.
int vla_preprocess_host(const uint8_t* src, int batch, const VlaPreprocessParams* p, void* dst);

// GPU: launch on `stream` (a cudaStream_t; 0 = default). src and dst are device (or mapped
// host) pointers. Returns a cudaError_t value (0 = success), or -1 on bad params.
int vla_preprocess_launch(const uint8_t* src, int batch, const VlaPreprocessParams* p, void* dst,
                          void* stream);

#ifdef __cplusplus
}
#endif
