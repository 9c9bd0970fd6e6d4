"""Fused action decode: host build against the NumPy reference (bit for bit) and against the
reference model's BinsHead formula; the CUDA kernel where a GPU exists."""

from __future__ import annotations

import numpy as np
import pytest

from vla_edge.errors import InputError
from vla_edge.kernels.action_decode import DecodeConfig, decode_host, decode_reference

CFG = dict(bins=256, low=[-1, -2, 0, -0.05], high=[1, 2, 0.5, 0.05])


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_host_build_matches_numpy(dtype):
    cfg = DecodeConfig(**CFG, mean=[0.1, 0, 0, 0], std=[2, 1, 1, 0.5])
    logits = np.random.default_rng(0).standard_normal((3, 8, 4, 256)).astype(dtype)
    (ref, ref_i), (host, host_i) = decode_reference(logits, cfg), decode_host(logits, cfg)
    assert ref.shape == (3, 8, 4) and ref.dtype == np.float32
    np.testing.assert_array_equal(ref_i, host_i)
    assert ref.tobytes() == host.tobytes()


def test_matches_the_reference_bins_head_formula():
    """BinsHead: low + (argmax + 0.5) * ((high - low) / bins), no de-normalization."""
    torch = pytest.importorskip("torch")
    cfg = DecodeConfig(**CFG)
    logits = np.random.default_rng(1).standard_normal((2, 4, 4, 256)).astype(np.float32)
    low, high = torch.tensor(CFG["low"]), torch.tensor(CFG["high"])
    idx = torch.argmax(torch.from_numpy(logits), dim=-1).to(torch.float32)
    expected = (low + (idx + 0.5) * ((high - low) / 256)).numpy()
    assert decode_host(logits, cfg)[0].tobytes() == expected.tobytes()


def test_ties_pick_the_first_bin_and_nan_is_skipped():
    cfg = DecodeConfig(bins=4, low=[0], high=[4])
    logits = np.array([[[1, 3, 3, 0]], [[np.nan, 2, 5, 5]], [[np.nan] * 4]], np.float32)
    actions, idx = decode_host(logits, cfg)
    np.testing.assert_array_equal(idx.ravel(), [1, 2, 0])
    np.testing.assert_array_equal(actions.ravel(), [1.5, 2.5, 0.5])
    np.testing.assert_array_equal(decode_reference(logits, cfg)[1], idx)


def test_clamp_applies_after_denormalization():
    cfg = DecodeConfig(bins=2, low=[-1], high=[1], bin_low=[-10], bin_high=[10], std=[1], mean=[0])
    actions, _ = decode_host(np.array([[[0.0, 1.0]]], np.float32), cfg)  # centre +5 -> clamp 1
    assert actions.item() == 1.0


def test_from_spec_uses_the_action_space():
    from vla_edge.policy.spec import ActionSpace, CameraSpec, PolicySpec

    spec = PolicySpec(
        cameras=[CameraSpec("front", 64, 64)],
        action=ActionSpace(
            ["x", "g"], ["m", "1"], [-0.1, 0], [0.1, 1], representation="bins", bins=16
        ),
    )
    cfg = DecodeConfig.from_spec(spec)
    assert cfg.bins == 16 and cfg.dims == 2
    np.testing.assert_allclose(cfg.bin_width, [0.2 / 16, 1 / 16], rtol=1e-6)


@pytest.mark.parametrize(
    "kwargs", [dict(bins=0), dict(low=[0] * 33, high=[1] * 33), dict(low=[1], high=[0])]
)
def test_invalid_configs_are_refused(kwargs):
    with pytest.raises(InputError):
        DecodeConfig(**{"bins": 4, "low": [0], "high": [1], **kwargs})


def test_wrong_logits_shape_is_refused():
    cfg = DecodeConfig(**CFG)
    with pytest.raises(InputError, match="bins"):
        decode_host(np.zeros((2, 4, 255), np.float32), cfg)


@pytest.mark.gpu
def test_cuda_kernel_matches_reference():
    from vla_edge.kernels.action_decode import decode_cuda
    from vla_edge.kernels.cudart import DeviceBuffer, gpu_count, synchronize

    if gpu_count() == 0:
        pytest.skip("no CUDA GPU on this machine (the host build above checks the same math)")
    cfg = DecodeConfig(**CFG, mean=[0.1, 0, 0, 0], std=[2, 1, 1, 0.5])
    for dtype, bins in ((np.float32, 256), (np.float16, 256), (np.float32, 7)):
        cfg = DecodeConfig(**{**CFG, "bins": bins})
        logits = np.random.default_rng(2).standard_normal((64, 16, 4, bins)).astype(dtype)
        ref, ref_i = decode_reference(logits, cfg)
        rows = ref.size
        with (
            DeviceBuffer.from_array(logits) as lg,
            DeviceBuffer(rows * 4) as act,
            DeviceBuffer(rows * 4) as ind,
        ):
            decode_cuda(
                lg.ptr, rows, act.ptr, cfg, logits_f16=dtype == np.float16, indices_ptr=ind.ptr
            )
            synchronize()
            out, out_i = act.download(ref.shape, np.float32), ind.download(ref.shape, np.int32)
        np.testing.assert_array_equal(out_i, ref_i)
        assert out.tobytes() == ref.tobytes()
