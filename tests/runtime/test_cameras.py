import time

import numpy as np
import pytest

from tests.fakes.cameras import LoopingCamera
from vla_edge.errors import RuntimeLoopError
from vla_edge.runtime.cameras import (
    FolderCamera,
    GStreamerCamera,
    PatternCamera,
    csi_pipeline,
    open_camera,
    parse_camera_arg,
)
from vla_edge.runtime.cameras.opencv import VideoFileCamera

RED, GREEN, BLUE = (255, 0, 0), (0, 255, 0), (0, 0, 255)


def wait_for(pred, timeout=5.0):
    end = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > end:
            raise AssertionError("condition not met in time")
        time.sleep(0.005)


def test_threaded_capture_keeps_only_the_newest_stamped_frame():
    cam = LoopingCamera(fps=500).connect()
    try:
        first = cam.read()
        wait_for(lambda: cam.frames_captured >= first.seq + 20)
        newest = cam.read()
        assert newest.seq > first.seq + 10  # not the next queued frame: the newest one
        assert newest.t_capture >= first.t_capture
        assert newest.t_capture <= time.monotonic()
        assert newest.image.dtype == np.uint8 and newest.image.shape == (32, 32, 3)
    finally:
        cam.close()


def test_a_finite_stream_ends_and_says_so():
    cam = LoopingCamera(n=3, fps=500)
    cam.loop = False
    cam.connect()
    wait_for(lambda: cam.finished)
    assert cam.frames_captured == 3 and cam.read().seq == 3
    cam.close()


def test_parse_camera_arg():
    assert parse_camera_arg("wrist=0") == ("wrist", "0")
    assert parse_camera_arg("clip.mp4") == (None, "clip.mp4")
    gst = "nvarguscamerasrc sensor-id=0 ! appsink"
    assert parse_camera_arg(gst) == (None, gst)
    assert parse_camera_arg(f"front={gst}") == ("front", gst)


def test_pattern_camera_needs_nothing():
    cam = open_camera("pattern:64x48@50", "front")
    assert isinstance(cam, PatternCamera) and cam.fps == 50
    with cam:
        assert cam.read().image.shape == (48, 64, 3)


def test_unknown_source_says_what_is_accepted(tmp_path):
    with pytest.raises(RuntimeLoopError, match="video file"):
        open_camera(str(tmp_path / "missing.mp4"))
    with pytest.raises(RuntimeLoopError, match="--sim"):
        open_camera("sim:front")


def test_folder_of_npy_images_in_name_order(tmp_path):
    for i in (2, 0, 1):
        np.save(tmp_path / f"f{i}.npy", np.full((8, 8, 3), i, np.uint8))
    cam = open_camera(f"{tmp_path}?fps=200&loop=0", "front")
    assert isinstance(cam, FolderCamera)
    seen = [cam._grab()[0, 0, 0] for _ in range(3)]
    assert seen == [0, 1, 2] and cam._grab() is None


def test_empty_folder_is_refused(tmp_path):
    with pytest.raises(RuntimeLoopError, match="no images"):
        FolderCamera(tmp_path)


def test_csi_pipeline_keeps_one_buffer():
    p = csi_pipeline(sensor_id=1, width=640, height=480, fps=60)
    assert p.startswith("nvarguscamerasrc sensor-id=1")
    assert "framerate=60/1" in p and "appsink drop=true max-buffers=1" in p


# --- OpenCV -------------------------------------------------------------------------------------


@pytest.fixture
def video(tmp_path):
    cv2 = pytest.importorskip("cv2")
    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25, (64, 48))
    assert writer.isOpened()
    for rgb in (RED, GREEN, BLUE):
        bgr = np.zeros((48, 64, 3), np.uint8)
        bgr[:] = rgb[::-1]
        writer.write(bgr)
    writer.release()
    return path


def test_video_file_camera_reads_rgb_at_the_file_rate(video):
    cam = open_camera(f"{video}?loop=0", "front")
    assert isinstance(cam, VideoFileCamera)
    cam._open()
    try:
        assert cam.fps == pytest.approx(25)
        colours = [tuple(int(v) for v in cam._grab()[0][24, 32]) for _ in range(3)]
        assert cam._grab() is None  # no loop
    finally:
        cam._release()
    for got, want in zip(colours, (RED, GREEN, BLUE), strict=True):
        assert np.abs(np.array(got) - want).max() < 40  # JPEG, and RGB (not BGR) order


def test_video_file_camera_loops(video):
    cam = VideoFileCamera(video, fps=500)
    with cam:
        wait_for(lambda: cam.frames_captured > 7)
        assert not cam.finished and cam.error is None


def test_gstreamer_needs_an_opencv_built_with_it():
    cv2 = pytest.importorskip("cv2")
    if "GStreamer:                   YES" in cv2.getBuildInformation():
        pytest.skip("this OpenCV has GStreamer; the refusal path cannot be exercised")
    with pytest.raises(RuntimeLoopError, match="without GStreamer"):
        GStreamerCamera(csi_pipeline()).connect(timeout_s=1)


def test_missing_device_fails_with_a_message():
    pytest.importorskip("cv2")
    with pytest.raises(RuntimeLoopError, match="could not open"):
        open_camera("/dev/video-does-not-exist").connect(timeout_s=1)
