"""`skelsplat detect` on the bundled demo take, checked against its calibration.

One detection run per session (MediaPipe BlazePose, 4 cameras x 100 frames, about 10-20 s
on 2 cores), shared by the tests below through a session fixture.

Stated bounds (measured on this machine: see docs/detection.md):
- triangulating 12 limb landmarks with ``triangulate_robust`` (15 px camera exclusion),
  every camera's median reprojection error over the views triangulation kept is below
  12 px (measured 6.0-9.4 px), and every camera is kept for at least 35 % of the
  joint-frames (measured 44-93 %);
- over all its detections, kept or not, every camera's median error is below 40 px
  (measured 6.4-28 px; cam03 disagrees most).
"""

from __future__ import annotations

import numpy as np
import pytest

from skelsplat.core.calibration import read_calibration
from skelsplat.core.footage import demo_take_dir, read_take
from skelsplat.core.keypoints.multiview import Keypoints2D
from skelsplat.core.skeletons import get_joint_set
from skelsplat.core.sync import estimate_offsets
from skelsplat.core.triangulation import triangulate_robust

#: BlazePose landmarks of shoulders, elbows, wrists, hips, knees, ankles.
LIMBS = [get_joint_set("blazepose_33").index(f"{side}_{part}")
         for part in ("shoulder", "elbow", "wrist", "hip", "knee", "ankle")
         for side in ("left", "right")]
CAMERAS = ["cam01", "cam02", "cam03", "cam04"]


def test_detect_covers_all_cameras_and_frames(demo_run, demo_keypoints) -> None:
    out, text = demo_run
    kp = demo_keypoints
    assert kp.shape == (100, 4, 33) and kp.joint_set == "blazepose_33"
    assert kp.camera_names == CAMERAS and kp.fps == pytest.approx(60.0)
    person = (kp.confidence > 0).any(-1)  # [F, V]
    assert person.all()
    for cam in CAMERAS:
        assert f"{cam}: 100/100 frames with a person" in text
    assert kp.confidence[kp.confidence > 0].mean() > 0.8
    assert len(list((out / "cache").glob("*.npz"))) == 4
    # detections lie inside each video's image
    widths = np.array([1080, 1080, 1088, 1088])
    u = kp.data[..., 0]
    assert np.all((u[..., LIMBS] > 0) & (u[..., LIMBS] < widths[None, :, None]))


def test_triangulated_detections_reproject_onto_every_camera(demo_keypoints) -> None:
    root = demo_take_dir()
    rig = read_calibration(root / "calibration" / "Calib.qca.txt")
    take = read_take(root / "videos", rig)  # 1080-px videos: cropped-sensor rule
    kp = demo_keypoints.aligned_to(take.rig)
    uvc = kp.data[:, :, LIMBS].transpose(0, 2, 1, 3)  # [F, J, V, 3]
    X, used, err = triangulate_robust(take.rig, uvc)
    assert np.isfinite(X).all(-1).mean() > 0.99
    err, used = err.reshape(-1, 4), used.reshape(-1, 4)
    for v, cam in enumerate(CAMERAS):
        kept = np.nanmedian(err[used[:, v], v])
        assert kept < 12.0, f"{cam}: median {kept:.1f} px over kept views"
        assert used[:, v].mean() >= 0.35, f"{cam}: kept for {used[:, v].mean():.0%}"
        assert np.nanmedian(err[:, v]) < 40.0, cam


def test_sync_suggestion_on_the_demo(demo_keypoints) -> None:
    kp = demo_keypoints
    s = estimate_offsets(kp, max_lag=20)
    assert s.offsets["cam04"] == 0 and s.reliable["cam04"], s.lines()
    data = kp.data.copy()
    data[:-6, 3] = kp.data[6:, 3]  # cam04's video now runs 6 frames ahead
    data[-6:, 3] = 0.0
    shifted = estimate_offsets(Keypoints2D(data, kp.camera_names, kp.joint_set), max_lag=20)
    assert shifted.offsets["cam04"] == -6 and shifted.reliable["cam04"], shifted.lines()
