"""One take through the three front ends (issue 18): ``skelsplat run``, ``skelsplat fit`` and
the add-on's jobs (operators, run synchronously) share ``core.stages``, so they give the same
joints bit for bit and the same delivered-motion reprojection error.

The keypoints are noisy, have a few left/right swaps and carry NO frame rate: the case where
the three used to differ (``run`` assumed 30 fps and smoothed, the others did not)."""

from __future__ import annotations

import contextlib
import io
import re

import numpy as np
import pytest
from test_report import synthetic_keypoints, synthetic_motion, synthetic_rig

from skelsplat.cli.main import main
from skelsplat.core.calibration import write_calibration_toml
from skelsplat.core.motion import Motion3D
from skelsplat.core.report import REPORT_NAME
from skelsplat.core.swaps import apply_flips

pytestmark = pytest.mark.bpy
N_FRAMES = 24


@pytest.fixture(scope="module")
def take(tmp_path_factory) -> dict:
    """4 cameras (TOML) and BODY_25 keypoints (NPZ without fps): 1.5 px noise, a leg swap
    in one view for 3 frames, one view losing a wrist for 4 frames."""
    root = tmp_path_factory.mktemp("one_take")
    rig = synthetic_rig()
    kp = synthetic_keypoints(rig, synthetic_motion(N_FRAMES), conf=0.9)
    rng = np.random.default_rng(18)
    data = kp.data.copy()
    data[..., :2] += rng.normal(0.0, 1.5, data[..., :2].shape)
    flips = np.zeros((N_FRAMES, len(rig), 4), bool)
    flips[10:13, 2, 2] = True  # one limb group of camera 3 swapped left/right
    data = apply_flips(data, flips, "body_25")
    data[5:9, 1, 4, 2] = 0.0  # right wrist missing in camera 2
    cal = write_calibration_toml(rig, root / "calib.toml")
    npz = root / "take_keypoints.npz"
    np.savez(npz, keypoints=data, camera_names=np.array(rig.names), joint_set="body_25")
    return {"root": root, "cal": cal, "npz": npz}


def _cli(argv: list[str]) -> str:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main(argv)
    assert rc == 0, err.getvalue()
    return out.getvalue() + err.getvalue()


def test_run_fit_and_addon_give_identical_joints_and_errors(take, tmp_path, empty_scene):
    import bpy

    import skelsplat
    from skelsplat.addon import jobs, session

    # 1. skelsplat run (the Blender stage is not what is compared: skipped)
    run_out = tmp_path / "run"
    text = _cli(["run", "--calibration", str(take["cal"]), "--keypoints", str(take["npz"]),
                 "--out", str(run_out), "--no-blender", "--device", "cpu"])
    run_px = re.search(r"mean reprojection error\s+([\d.]+) px", text).group(1)
    assert "assuming 30 fps" in text
    page = (run_out / REPORT_NAME).read_text()
    assert f"<td>{run_px} px</td>" in page  # the report shows the terminal's number
    run_motion = Motion3D.load_npz(run_out / "joints.npz")

    # 2. skelsplat fit
    fit_npz = tmp_path / "fit.npz"
    text = _cli(["fit", "--calibration", str(take["cal"]), "--keypoints", str(take["npz"]),
                 "--out", str(fit_npz), "--device", "cpu", "--quiet"])
    fit_px = re.search(r"mean reprojection error ([\d.]+) px", text).group(1)
    assert "assuming 30 fps" in text
    fit_motion = Motion3D.load_npz(fit_npz)

    # 3. the add-on: Import Capture, Import Keypoints, Fit (synchronous job)
    skelsplat.register()
    try:
        props = empty_scene.skelsplat
        assert bpy.ops.skelsplat.import_capture(calibration_path=str(take["cal"])) \
            == {"FINISHED"}
        assert bpy.ops.skelsplat.import_keypoints(keypoints_path=str(take["npz"])) \
            == {"FINISHED"}
        assert bpy.ops.skelsplat.fit(device="cpu", synchronous=True) == {"FINISHED"}
        assert not jobs.running("fit") and props.last_error == ""
        addon_motion = session.MOTIONS[empty_scene.name]
        addon_px = f"{props.reprojection_px:.2f}"
        assert any("assuming 30 fps" in w.name for w in props.warnings)
    finally:
        jobs.clear()
        session.KEYPOINTS.clear()
        session.MOTIONS.clear()
        skelsplat.unregister()

    for other in (fit_motion, addon_motion):
        assert other.joint_names == run_motion.joint_names
        np.testing.assert_array_equal(other.joints3d, run_motion.joints3d)
        np.testing.assert_array_equal(other.valid, run_motion.valid)
        np.testing.assert_array_equal(other.reprojection_error_px,
                                      run_motion.reprojection_error_px)
        assert other.fps == run_motion.fps == 30.0
        np.testing.assert_array_equal(other.frame_numbers, run_motion.frame_numbers)
    assert run_motion.valid.mean() > 0.95
    assert run_px == fit_px == addon_px
    assert 0.5 < float(run_px) < 5.0  # 1.5 px noise per axis (measured 1.73 px)
