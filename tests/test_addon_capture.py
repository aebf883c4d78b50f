"""Capture and 2D keypoint operators on the bundled demo take (scene.skelsplat state)."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.bpy


@pytest.fixture
def registered(empty_scene):
    import skelsplat
    from skelsplat.addon import jobs, session

    skelsplat.register()
    yield empty_scene
    jobs.clear()
    session.KEYPOINTS.clear()
    skelsplat.unregister()


def test_import_capture_operator_fills_the_camera_table(registered, shared_data) -> None:
    import bpy

    demo = shared_data / "pose2sim_demo"
    scene = registered
    result = bpy.ops.skelsplat.import_capture(
        calibration_path=str(demo / "calibration" / "Calib_converted.toml"),
        footage_path=str(demo / "videos"), take_name="balance")
    assert result == {"FINISHED"}
    rows = scene.skelsplat.cameras
    assert [r.name for r in rows] == ["cam_01", "cam_02", "cam_03", "cam_04"]
    assert (rows["cam_01"].width, rows["cam_01"].height) == (1080, 1920)  # encoder crop
    assert (rows["cam_03"].width, rows["cam_03"].height) == (1088, 1920)
    assert rows["cam_01"].focal_px == pytest.approx(1681.2449, abs=1e-3)
    assert rows["cam_04"].video == "cam04.mp4"
    assert len(scene.skelsplat.warnings) >= 2
    assert scene.skelsplat.take_name == "balance"
    assert bpy.data.collections["balance cameras"].objects.keys() == [r.name for r in rows]
    assert (scene.frame_start, scene.frame_end) == (1, 100)


def test_import_capture_reports_a_bad_calibration(registered, tmp_path) -> None:
    import bpy

    bad = tmp_path / "calib.toml"
    bad.write_text("[metadata]\nerror = 0\n")
    with pytest.raises(RuntimeError, match=r"calib\.toml"):
        bpy.ops.skelsplat.import_capture(calibration_path=str(bad))
    assert len(bpy.data.objects) == 0  # nothing half-built


def test_detect_operator_runs_the_take_detector_in_a_job(registered, shared_data,
                                                         monkeypatch) -> None:
    """Plumbing only (detection itself is tested in core): take, options, progress, result."""
    import bpy

    import skelsplat.core.detect as detect
    from skelsplat.addon import jobs, session
    from skelsplat.core.keypoints.multiview import Keypoints2D

    demo = shared_data / "pose2sim_demo"
    scene = registered
    bpy.ops.skelsplat.import_capture(
        calibration_path=str(demo / "calibration" / "Calib_converted.toml"),
        footage_path=str(demo / "videos"))
    seen = {}

    def fake_detect_take(take, backend="mediapipe", workers=2, progress=None, cancel=None,
                         **kw):
        seen.update(cameras=take.camera_names, backend=backend, workers=workers)
        progress(0.5, "cam_01 50/100")
        data = np.zeros((take.n_frames, len(take.camera_names), 25, 3))
        data[..., 2] = 0.9
        return Keypoints2D(data, take.camera_names, "body_25")

    monkeypatch.setattr(detect, "detect_take", fake_detect_take)
    assert bpy.ops.skelsplat.detect(backend="mediapipe") == {"FINISHED"}
    jobs.wait("detect", timeout=30)
    assert seen == {"cameras": ["cam_01", "cam_02", "cam_03", "cam_04"],
                    "backend": "mediapipe", "workers": 1}
    assert session.KEYPOINTS[scene.name].shape == (100, 4, 25)
    assert scene.skelsplat.keypoints_summary.startswith("100 frames x 4 views x 25 joints")
