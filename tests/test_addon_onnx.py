"""The ONNX detector chosen in Blender: the add-on's Model File reaches the detector (issue
18). Driven headless through the add-on's operators with the tiny self-built ONNX model of
``test_detect`` (three colour blobs, coco_17 outputs)."""

from __future__ import annotations

import numpy as np
import pytest
import test_addon_session

pytestmark = pytest.mark.bpy
pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

N_FRAMES = 4
registered = test_addon_session.registered  # the add-on registered, then cleared


@pytest.fixture(scope="module")
def blob_capture(tmp_path_factory) -> dict:
    """Two calibrated cameras c1, c2 (240x320) with the blob videos of ``test_detect``: c1's
    blobs drift right 4 px/frame, c2 is black."""
    from io_synthetic import ring_rig
    from test_detect import CENTRES, _blob_frame, _build_model

    from skelsplat.core.calibration import write_calibration_toml
    from skelsplat.core.video import write_video

    root = tmp_path_factory.mktemp("onnx_capture")
    rig = ring_rig(2, size=(240, 320), distortion=False, names=["c1", "c2"])
    cal = write_calibration_toml(rig, root / "cal.toml")
    videos = root / "videos"
    videos.mkdir()
    frames = np.stack([_blob_frame(CENTRES + np.array([4.0 * i, 0.0]))
                       for i in range(N_FRAMES)])
    write_video(videos / "c1.mp4", frames, fps=30)
    write_video(videos / "c2.mp4", np.zeros_like(frames), fps=30)
    model = _build_model(root / "tiny_simcc.onnx", "simcc")
    return {"cal": cal, "videos": videos, "model": model, "centres": CENTRES}


def test_onnx_detector_runs_from_the_panel_fields(registered, blob_capture, tmp_path):
    import bpy

    from skelsplat.addon import jobs, session
    from skelsplat.core.detect import DetectOptions, detect_take
    from skelsplat.core.footage import read_take

    scene = registered
    props = scene.skelsplat
    assert bpy.ops.skelsplat.import_capture(calibration_path=str(blob_capture["cal"]),
                                            footage_path=str(blob_capture["videos"])) \
        == {"FINISHED"}
    # the panel's fields: ONNX without a model file is refused up front, naming the field
    props.backend = "onnx"
    with pytest.raises(RuntimeError, match=r"needs a model file.*\(Model File\)"):
        bpy.ops.skelsplat.detect(backend="onnx", synchronous=True)
    assert scene.name not in session.KEYPOINTS
    props.model = str(blob_capture["model"])
    assert bpy.ops.skelsplat.detect(backend="onnx", model=props.model, synchronous=True) \
        == {"FINISHED"}
    assert not jobs.running("detect") and props.last_error == ""
    kp = session.KEYPOINTS[scene.name]
    assert kp.shape == (N_FRAMES, 2, 17) and kp.joint_set == "coco_17"
    assert kp.camera_names == ["c1", "c2"]
    assert props.keypoints_summary.startswith(f"{N_FRAMES} frames x 2 views x 17 joints "
                                              "(coco_17)")
    # c1: joints 0, 3, 6, ... on the red blob, 1, 4, ... green, 2, 5, ... blue (within 3 px)
    truth = blob_capture["centres"][np.arange(17) % 3]  # [J, 2]
    for f in range(N_FRAMES):
        err = np.linalg.norm(kp.data[f, 0, :, :2] - (truth + np.array([4.0 * f, 0.0])), axis=-1)
        assert err.max() < 3.0, (f, err.max())
    assert (kp.data[:, 1, :, 2] == 0).all()  # c2 is black: nobody there
    # the same detections as the core call with the same options (cached: same numbers)
    take = read_take(blob_capture["videos"], None)
    opts = DetectOptions(backend="onnx", model=blob_capture["model"], cache_dir=tmp_path)
    core = detect_take(take, "onnx", opts.detector_options(), cache_dir=tmp_path)
    np.testing.assert_array_equal(kp.data, core.data)


def test_a_missing_model_file_is_a_job_error_naming_the_file(registered, blob_capture,
                                                             tmp_path):
    import bpy

    from skelsplat.addon import jobs

    scene = registered
    assert bpy.ops.skelsplat.import_capture(calibration_path=str(blob_capture["cal"]),
                                            footage_path=str(blob_capture["videos"])) \
        == {"FINISHED"}
    missing = tmp_path / "nope.onnx"
    assert bpy.ops.skelsplat.detect(backend="onnx", model=str(missing), synchronous=True) \
        == {"FINISHED"}  # the job starts; its worker names the file
    assert not jobs.running("detect")
    assert "nope.onnx" in scene.skelsplat.last_error
    assert "not found (Model File)" in scene.skelsplat.last_error  # the field to fix
    assert "--model" not in scene.skelsplat.last_error
