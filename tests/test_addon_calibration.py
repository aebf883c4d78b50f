"""The Calibration panel's operators in headless Blender: board calibration (the core
call faked with a known result), refinement from the actor, offset suggestion and apply."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.bpy


@pytest.fixture
def registered(empty_scene, tmp_path):
    import skelsplat
    from skelsplat.addon import jobs, session

    skelsplat.register()
    jobs.REPORTS.clear()
    yield empty_scene
    jobs.clear()
    session.KEYPOINTS.clear()
    skelsplat.unregister()


def test_calibrate_board_writes_toml_fills_errors_and_builds_cameras(registered, monkeypatch,
                                                                     tmp_path: Path) -> None:
    import bpy
    from io_synthetic import ring_rig

    from skelsplat.core.calibration import from_videos, read_calibration
    from skelsplat.core.calibration.board import BoardSpec
    from skelsplat.core.calibration.board_calibrate import BoardCalibration
    from skelsplat.core.calibration.quality import read_calibration_errors

    rig = ring_rig(3)
    seen = {}

    def fake(videos, board, model, origin, step=None, offsets=None, progress=None):
        seen.update(videos=Path(videos), board=board, model=model, origin=origin)
        progress(0.5, "bundle adjustment")
        return BoardCalibration(rig, {}, {"cam01": 0.11, "cam02": 0.2, "cam03": 0.3},
                                {"cam01": 20, "cam02": 21, "cam03": 22}, {}, 0, board,
                                ["summary line"])

    monkeypatch.setattr(from_videos, "calibrate_videos", fake)
    scene = registered
    cal = scene.skelsplat.calibration
    cal.videos = str(tmp_path)
    cal.squares, cal.square_mm, cal.marker_mm = "5x7", 100.0, 75.0
    cal.out = str(tmp_path / "calib.toml")
    assert bpy.ops.skelsplat.calibrate_board(synchronous=True) == {"FINISHED"}
    assert seen["board"] == BoardSpec("charuco", (5, 7), 100.0, 75.0, "DICT_4X4_50")
    assert seen["origin"] is None and seen["model"] == "pinhole"
    assert read_calibration(tmp_path / "calib.toml").allclose(rig, atol_px=1e-9, atol_m=1e-9)
    assert read_calibration_errors(tmp_path / "calib.toml") == pytest.approx(
        {"cam01": 0.11, "cam02": 0.2, "cam03": 0.3})
    assert [(c.name, round(c.rms_px, 2), c.views) for c in cal.cameras] == [
        ("cam01", 0.11, 20), ("cam02", 0.2, 21), ("cam03", 0.3, 22)]
    assert cal.summary == "summary line"
    assert {o.name for o in bpy.data.objects if o.type == "CAMERA"} >= set(rig.names)
    # an existing file is never replaced without Overwrite
    with pytest.raises(RuntimeError, match="exists; tick Overwrite"):
        bpy.ops.skelsplat.calibrate_board(synchronous=True)


def test_refine_suggest_and_apply_offsets(registered, tmp_path: Path) -> None:
    import bpy
    from io_synthetic import ring_rig
    from test_calibration_refine import perturb, synthetic_take

    from skelsplat.addon import session
    from skelsplat.core.calibration import read_calibration, write_calibration_toml

    truth = ring_rig(4, radius=3.5)
    scene = registered
    start = write_calibration_toml(perturb(truth), tmp_path / "start.toml")
    bpy.ops.skelsplat.import_capture(calibration_path=str(start))
    kp = synthetic_take(truth, n=60)
    session.KEYPOINTS[scene.name] = kp
    assert bpy.ops.skelsplat.refine_calibration(synchronous=True) == {"FINISHED"}
    refined = read_calibration(tmp_path / "start_refined.toml")
    assert scene.skelsplat.calibration_path.endswith("start_refined.toml")
    assert max(c.rms_px for c in scene.skelsplat.calibration.cameras) < 2.5
    assert not refined.allclose(read_calibration(start), atol_px=1, atol_m=1e-3)

    data = kp.data.copy()
    data[:-3, 2] = kp.data[3:, 2]  # cam03's frame t shows frame t + 3: offset -3
    data[-3:, 2] = 0
    session.KEYPOINTS[scene.name] = type(kp)(data, kp.camera_names, kp.joint_set)
    assert bpy.ops.skelsplat.suggest_offsets(source="keypoints") == {"FINISHED"}
    rows = {r.name: r.offset for r in scene.skelsplat.calibration.offsets}
    assert rows == {"cam01": 0, "cam02": 0, "cam03": -3, "cam04": 0}
    assert session.KEYPOINTS[scene.name].data[10, 2, 0, 0] == data[10, 2, 0, 0]  # not applied
    assert bpy.ops.skelsplat.apply_offsets() == {"FINISHED"}
    shifted = session.KEYPOINTS[scene.name].data
    assert np.array_equal(shifted[10:50, 2], kp.data[10:50, 2])
    assert {c.name: c.offset for c in scene.skelsplat.cameras}["cam03"] == -3
    assert len(scene.skelsplat.calibration.offsets) == 0
