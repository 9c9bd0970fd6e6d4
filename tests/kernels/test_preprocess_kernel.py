"""Fused camera preprocessing: host build (the CUDA math compiled for the CPU) against the NumPy
reference, bit for bit, for every pixel format and output layout; then the CUDA kernel against
the same reference where a GPU exists."""

from __future__ import annotations

import numpy as np
import pytest

from vla_edge.errors import InputError
from vla_edge.kernels.preprocess import (
    FORMATS,
    LAYOUTS,
    PreprocessConfig,
    preprocess_host,
    preprocess_reference,
    source_rgb,
)

IMAGENET = dict(mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225))
SIZES = [(64, 48, 24, 20), (32, 32, 32, 32), (20, 10, 64, 48), (640, 480, 224, 224)]


def _frames(cfg: PreprocessConfig, batch: int = 2, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (batch, cfg.frame_bytes), dtype=np.uint8)


def _same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes()


@pytest.mark.parametrize("fmt", list(FORMATS))
@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_host_build_matches_numpy_bit_for_bit(fmt, layout):
    for sw, sh, dw, dh in SIZES[:3]:
        cfg = PreprocessConfig(
            sw, sh, dw, dh, format=fmt, layout=layout, colorspace="bt709", **IMAGENET
        )
        frames = _frames(cfg)
        ref, host = preprocess_reference(frames, cfg), preprocess_host(frames, cfg)
        assert ref.shape == (2, *cfg.out_shape)
        assert _same_bits(ref, host), f"{fmt} {layout} {sw}x{sh}->{dw}x{dh}"


def test_camera_sized_nv12_frame():
    cfg = PreprocessConfig(640, 480, 224, 224, format="nv12", layout="nchw-f16", **IMAGENET)
    frames = _frames(cfg, batch=1)
    assert _same_bits(preprocess_reference(frames, cfg), preprocess_host(frames, cfg))


def test_same_size_rgb_is_a_copy_and_bgr_swaps_channels():
    cfg = PreprocessConfig(16, 8, 16, 8, format="rgb", layout="nhwc-u8")
    frame = _frames(cfg, batch=1).reshape(1, 8, 16, 3)
    np.testing.assert_array_equal(preprocess_host(frame, cfg), frame)
    bgr = PreprocessConfig(16, 8, 16, 8, format="bgr", layout="nhwc-u8")
    np.testing.assert_array_equal(preprocess_host(frame, bgr)[..., ::-1], frame)


def test_normalization_and_nchw_layout():
    cfg = PreprocessConfig(
        4, 4, 4, 4, format="rgb", layout="nchw-f32", mean=(0.5,) * 3, std=(0.5,) * 3
    )
    frame = np.full((4, 4, 3), 255, np.uint8)
    frame[..., 1] = 0
    out = preprocess_host(frame, cfg)[0]
    np.testing.assert_allclose(out[0], 1.0, atol=1e-6)  # R: (1 - .5) / .5
    np.testing.assert_allclose(out[1], -1.0, atol=1e-6)  # G: (0 - .5) / .5


def test_bilinear_downscale_by_two_averages_pixel_pairs():
    cfg = PreprocessConfig(4, 2, 2, 1, format="rgb", layout="nchw-f32")
    frame = np.zeros((2, 4, 3), np.uint8)
    frame[:, 0], frame[:, 1], frame[:, 2], frame[:, 3] = 0, 100, 200, 50
    out = preprocess_host(frame, cfg)[0] * 255
    np.testing.assert_allclose(out[0, 0], [50, 125], atol=1e-3)  # half-pixel centres


def test_yuv_grey_and_colour_references():
    """Limited-range BT.601: Y=16 -> black, Y=235 -> white, neutral chroma -> grey."""
    cfg = PreprocessConfig(2, 2, 2, 2, format="nv12", layout="nhwc-u8")
    frame = np.array([16, 235, 126, 126, 128, 128], np.uint8)  # Y plane 2x2, UV 1x1
    out = preprocess_host(frame, cfg)[0]
    np.testing.assert_array_equal(out[0, 0], [0, 0, 0])
    np.testing.assert_array_equal(out[0, 1], [255, 255, 255])
    red = np.array([82, 82, 82, 82, 90, 240], np.uint8)  # BT.601 studio-swing red
    rgb = source_rgb(red, cfg)
    assert rgb[0, 0, 0] > 250 and rgb[0, 0, 1] < 5 and rgb[0, 0, 2] < 5


def test_yuyv_matches_nv12_for_the_same_pixels():
    nv12 = PreprocessConfig(4, 2, 4, 2, format="nv12", layout="nchw-f32")
    yuyv = PreprocessConfig(4, 2, 4, 2, format="yuyv", layout="nchw-f32")
    y = np.array([[10, 60, 110, 160], [10, 60, 110, 160]], np.uint8)
    u, v = np.array([90, 200], np.uint8), np.array([150, 30], np.uint8)
    nv = np.concatenate([y.ravel(), np.stack([u, v], 1).ravel()])
    yu = np.stack([y[:, 0::2], np.tile(u, (2, 1)), y[:, 1::2], np.tile(v, (2, 1))], -1).ravel()
    assert _same_bits(preprocess_host(nv, nv12), preprocess_host(yu, yuyv))


def test_fp16_output_rounds_like_numpy_including_overflow_and_subnormals():
    for std in (1e-6, 5e3):  # huge values -> inf; tiny -> half subnormals
        cfg = PreprocessConfig(8, 8, 5, 3, layout="nchw-f16", mean=(0.3, 0.5, 0.7), std=(std,) * 3)
        frames = _frames(cfg, seed=3)
        assert _same_bits(preprocess_reference(frames, cfg), preprocess_host(frames, cfg))


def test_row_stride_padding_is_skipped():
    cfg = PreprocessConfig(6, 4, 3, 2, format="rgb", layout="nhwc-u8", src_stride=32)
    padded = _frames(cfg, batch=1)
    tight = PreprocessConfig(6, 4, 3, 2, format="rgb", layout="nhwc-u8")
    rows = padded.reshape(4, 32)[:, :18]
    assert _same_bits(preprocess_host(padded, cfg), preprocess_host(rows, tight))


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(format="nv21"),
        dict(layout="nchw-f64"),
        dict(std=(0, 1, 1)),
        dict(src_width=5, format="nv12"),
    ],
)
def test_invalid_configs_are_refused(kwargs):
    base = dict(src_width=8, src_height=8, dst_width=4, dst_height=4)
    with pytest.raises(InputError):
        PreprocessConfig(**{**base, **kwargs})


def test_wrong_frame_size_is_refused():
    cfg = PreprocessConfig(8, 8, 4, 4)
    with pytest.raises(InputError, match="frames"):
        preprocess_host(np.zeros(10, np.uint8), cfg)


@pytest.mark.gpu
def test_cuda_kernel_matches_reference_bit_for_bit():
    from vla_edge.kernels.cudart import DeviceBuffer, gpu_count, synchronize
    from vla_edge.kernels.preprocess import preprocess_cuda

    if gpu_count() == 0:
        pytest.skip("no CUDA GPU on this machine (the host build above checks the same math)")
    for fmt in FORMATS:
        for layout in LAYOUTS:
            cfg = PreprocessConfig(640, 480, 224, 224, format=fmt, layout=layout, **IMAGENET)
            frames = _frames(cfg, batch=3)
            ref = preprocess_reference(frames, cfg)
            with DeviceBuffer.from_array(frames) as src, DeviceBuffer(ref.nbytes) as dst:
                preprocess_cuda(src.ptr, dst.ptr, 3, cfg)
                synchronize()
                out = dst.download(ref.shape, ref.dtype)
            assert _same_bits(ref, out), f"{fmt} {layout}"
