"""The run report on synthetic inputs: metrics, summary, figures, HTML.

Also holds the synthetic take (rig + moving rigid BODY_25 skeleton) that test_run.py reuses.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from matplotlib.image import imread

from skelsplat.core.camera import Camera, Rig
from skelsplat.core.keypoints.multiview import Keypoints2D
from skelsplat.core.metrics import bone_length_std, bone_lengths, reprojection_errors
from skelsplat.core.motion import Motion3D
from skelsplat.core.report import (
    REPORT_NAME,
    figure_names,
    make_figures,
    pick_report_frames,
    plot_camera_overlays,
    summarize,
    write_report,
)
from skelsplat.core.report.figures import DETECTION_COLOR, FIT_COLOR, OverlayPanel
from skelsplat.core.skeletons import get_joint_set

# --------------------------------------------------------------------- synthetic take
# A standing BODY_25 skeleton (metres, Z up, facing +y), joint order of core.skeletons.
_REST = {
    "nose": (0.0, 0.10, 1.62), "neck": (0.0, 0.0, 1.50),
    "right_shoulder": (-0.18, 0.0, 1.48), "right_elbow": (-0.22, 0.0, 1.20),
    "right_wrist": (-0.24, 0.05, 0.95), "left_shoulder": (0.18, 0.0, 1.48),
    "left_elbow": (0.22, 0.0, 1.20), "left_wrist": (0.24, 0.05, 0.95),
    "mid_hip": (0.0, 0.0, 0.95), "right_hip": (-0.10, 0.0, 0.95),
    "right_knee": (-0.11, 0.02, 0.52), "right_ankle": (-0.12, 0.0, 0.08),
    "left_hip": (0.10, 0.0, 0.95), "left_knee": (0.11, 0.02, 0.52),
    "left_ankle": (0.12, 0.0, 0.08), "right_eye": (-0.03, 0.09, 1.66),
    "left_eye": (0.03, 0.09, 1.66), "right_ear": (-0.07, 0.02, 1.64),
    "left_ear": (0.07, 0.02, 1.64), "left_big_toe": (0.10, 0.18, 0.02),
    "left_small_toe": (0.14, 0.16, 0.02), "left_heel": (0.12, -0.05, 0.03),
    "right_big_toe": (-0.10, 0.18, 0.02), "right_small_toe": (-0.14, 0.16, 0.02),
    "right_heel": (-0.12, -0.05, 0.03),
}


def synthetic_rig(n_cameras: int = 4, size: tuple[int, int] = (640, 480)) -> Rig:
    """Cameras on a 4 m ring at 1.4 m height, looking at (0, 0, 1), mild distortion."""
    cams = []
    for i in range(n_cameras):
        a = 2 * np.pi * i / n_cameras + 0.3
        centre = np.array([4.0 * np.cos(a), 4.0 * np.sin(a), 1.4])
        fwd = np.array([0.0, 0.0, 1.0]) - centre
        fwd /= np.linalg.norm(fwd)
        right = np.cross(fwd, [0.0, 0.0, 1.0])
        right /= np.linalg.norm(right)
        down = np.cross(fwd, right)
        R = np.stack([right, down, fwd])
        K = np.array([[600.0, 0, size[0] / 2 + 3], [0, 600.0, size[1] / 2 - 2], [0, 0, 1]])
        cams.append(Camera(f"cam{i + 1:02d}", K, [-0.05, 0.01, 0.0, 0.0, 0.0], R,
                           -R @ centre, size))
    return Rig(cams, source="synthetic")


def synthetic_motion(n_frames: int = 30) -> np.ndarray:
    """[F, 25, 3] BODY_25 joints: the rest pose turning about Z and walking along x."""
    js = get_joint_set("body_25")
    rest = np.array([_REST[j] for j in js.joints])
    t = np.arange(n_frames) / max(n_frames - 1, 1)
    out = np.empty((n_frames, js.n, 3))
    for f, tf in enumerate(t):
        th = 0.8 * np.sin(2 * np.pi * tf)
        c, s = np.cos(th), np.sin(th)
        Rz = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])
        out[f] = rest @ Rz.T + [0.4 * np.sin(2 * np.pi * tf), 0.2 * tf, 0.0]
    return out


def synthetic_keypoints(rig: Rig, joints: np.ndarray, conf: float = 0.9,
                        fps: float = 30.0) -> Keypoints2D:
    """Project ``joints`` [F, J, 3] into every camera: Keypoints2D [F, V, J, 3]."""
    uv = np.moveaxis(rig.project(joints), -2, 1)  # [F, V, J, 2]
    data = np.concatenate([uv, np.full((*uv.shape[:-1], 1), conf)], axis=-1)
    return Keypoints2D(data, rig.names, "body_25", fps=fps, source="synthetic")


def canonical_motion(joints: np.ndarray, fps: float = 30.0) -> Motion3D:
    """BODY_25 joints [F, 25, 3] -> canonical Motion3D (mean of the source joints)."""
    W, names = get_joint_set("body_25").canonical_weights()
    canon = np.einsum("cj,fjd->fcd", W, joints)
    return Motion3D(canon, names, np.ones(canon.shape[:2], bool), fps=fps)


# ------------------------------------------------------------------------ metrics
def test_reprojection_error_is_zero_on_exact_projection_and_tracks_a_shift():
    rig = synthetic_rig()
    joints = synthetic_motion(5)
    kp = synthetic_keypoints(rig, joints).data.copy()
    err = reprojection_errors(rig, joints, kp)
    assert err.shape == (5, 4, 25)
    assert np.nanmax(err) < 1e-6
    kp[:, 1, :, 0] += 3.0  # camera 2 detections 3 px to the right
    kp[2, 0, 4, 2] = 0.0  # one missing detection
    err = reprojection_errors(rig, joints, kp)
    np.testing.assert_allclose(err[:, 1], 3.0, atol=1e-6)
    assert np.isnan(err[2, 0, 4])
    assert np.nanmax(np.delete(err, 1, axis=1)) < 1e-6


def test_bone_lengths_and_std_in_mm():  # the report shows core.metrics' metres in mm
    joints = np.zeros((3, 2, 3))
    joints[:, 1, 0] = [0.100, 0.102, 0.098]
    lengths = 1000.0 * bone_lengths(joints, np.array([[0, 1]]))
    np.testing.assert_allclose(lengths[:, 0], [100.0, 102.0, 98.0])
    np.testing.assert_allclose(bone_length_std(lengths), [np.std([100.0, 102.0, 98.0])])
    joints[1, 1] = np.nan
    lengths = 1000.0 * bone_lengths(joints, np.array([[0, 1]]))
    assert np.isnan(lengths[1, 0])
    np.testing.assert_allclose(bone_length_std(lengths), [1.0])  # 100, 98
    assert np.isnan(bone_length_std(lengths[:1]))[0]  # one frame: undefined


def test_pick_report_frames_prefers_covered_frames_in_each_part():
    valid = np.ones((9, 4), bool)
    valid[0] = False
    valid[3:5, :2] = False
    assert pick_report_frames(valid, 3) == [1, 5, 6]
    assert pick_report_frames(valid[:2], 3) == [0, 1]
    assert pick_report_frames(valid[:0], 3) == []


# ------------------------------------------------------------------------ summary
def _summary_case(n_frames: int = 12):
    rig = synthetic_rig()
    joints = synthetic_motion(n_frames)
    kp = synthetic_keypoints(rig, joints)
    kp.data[:, 0, :, 1] += 2.0  # camera 1 detections 2 px lower: error 2 px there only
    motion = canonical_motion(joints)
    motion.joints3d[:, motion.index("left_elbow")] += [0.0, 0.0, 0.01]  # 10 mm up
    motion.joints3d[::2, motion.index("left_wrist"), 2] += 0.004  # 4 mm flicker
    return rig, joints, kp, motion


def test_summary_numbers():
    rig, joints, kp, motion = _summary_case()
    s = summarize("synth", rig, kp.data, joints, motion, "body_25",
                  timings_s={"fit": 1.25, "export": 0.5}, files=["joints.npz"])
    assert s.n_frames == 12 and s.camera_names == rig.names
    assert s.coverage_pct == pytest.approx(100.0)
    assert s.reprojection_px == pytest.approx(0.5, abs=1e-6)  # 2 px on 1 of 4 cameras
    assert s.reprojection_median_px == pytest.approx(0.0, abs=1e-6)
    assert s.reprojection_px_per_camera["cam01"] == pytest.approx(2.0, abs=1e-6)
    assert s.reprojection_px_per_camera["cam03"] == pytest.approx(0.0, abs=1e-6)
    # The wrist flicker: forearm length alternates, std ~ 2 mm on that bone only.
    fore = s.bone_std_mm_per_bone["left_elbow-left_wrist"]
    assert 1.0 < fore < 2.1
    assert s.bone_std_mm_per_bone["pelvis-left_hip"] == pytest.approx(0.0, abs=1e-6)
    n_bones = len(s.bone_std_mm_per_bone)
    assert s.bone_std_mm == pytest.approx(
        np.mean(list(s.bone_std_mm_per_bone.values())), rel=1e-9)
    assert n_bones >= 15
    assert s.total_s == pytest.approx(1.75)
    text = s.to_text()
    for label, value in s.rows():
        assert label in text and value in text
    assert "0.50 px" in text and "2.00 px" in text and "joints.npz" in text


def test_summary_with_invalid_joints_reports_coverage():
    rig, joints, kp, motion = _summary_case(10)
    valid = motion.valid.copy()
    valid[:5, 0] = False  # pelvis missing in half the frames
    m = Motion3D(motion.joints3d.copy(), motion.joint_names, valid, fps=30.0)
    s = summarize("synth", rig, kp.data, joints, m, "body_25")
    n_joints = len(m.joint_names)
    assert s.coverage_pct == pytest.approx(100.0 * (1 - 5 / (10 * n_joints)))
    assert np.isnan(s.bone_lengths_mm[:5, 0]).all()


# ------------------------------------------------------------------------ figures
def _color_pixels(png: np.ndarray, hex_color: str, tol: float = 0.12) -> int:
    rgb = np.array([int(hex_color[i:i + 2], 16) / 255 for i in (1, 3, 5)])
    return int((np.abs(png[..., :3] - rgb).max(-1) < tol).sum())


def test_overlay_draws_detections_and_fit_over_the_footage(tmp_path):
    rig = synthetic_rig()
    joints = synthetic_motion(3)
    kp = synthetic_keypoints(rig, joints)
    cam = rig[0]
    js = get_joint_set("body_25")
    image = np.full((480, 640, 3), 200, np.uint8)
    panels = [OverlayPanel(f, image, kp.data[f, 0], cam.project(joints[f]) + 15.0)
              for f in range(2)]
    path = plot_camera_overlays(tmp_path / "o.png", cam.name, cam.size, panels,
                                js.bone_indices, js.bone_indices)
    png = imread(path)
    assert png.shape[1] > 400
    green = _color_pixels(png, DETECTION_COLOR)
    assert green > 200
    assert _color_pixels(png, FIT_COLOR) > 50
    assert _color_pixels(png, "#c8c8c8") > 1000  # the grey footage is visible
    # Without footage and without detections: only the legend's marker is green.
    empty = OverlayPanel(0, None, np.zeros((25, 3)), cam.project(joints[0]))
    path = plot_camera_overlays(tmp_path / "e.png", cam.name, cam.size, [empty],
                                js.bone_indices, js.bone_indices)
    png = imread(path)
    assert _color_pixels(png, DETECTION_COLOR) < 40
    assert _color_pixels(png, FIT_COLOR) > 20


def test_full_report_links_every_figure_and_shows_the_summary_numbers(tmp_path):
    rig, joints, kp, motion = _summary_case()
    s = summarize("synth", rig, kp.data, joints, motion, "body_25",
                  timings_s={"calibration": 0.01, "fit": 2.0, "report": 1.0},
                  files=[REPORT_NAME, "joints.npz"])
    seen = []

    def reader(camera: str, frame: int) -> np.ndarray:
        seen.append((camera, frame))
        return np.full((480, 640, 3), 90, np.uint8)

    figs = make_figures(tmp_path, s, rig, kp, motion, frame_reader=reader, n_frames=3)
    path = write_report(tmp_path, s, figs, details={"calibration": "synthetic"})
    assert path == tmp_path / REPORT_NAME
    assert len(seen) == 3 * len(rig)
    assert sorted({f for _, f in seen}) == [0, 4, 8]  # first frame of each third (all valid)
    page = path.read_text()
    expected = figure_names(rig.names)
    for name in expected:
        assert (tmp_path / name).stat().st_size > 2000
        assert f'src="{name}"' in page
    srcs = re.findall(r'<img src="([^"]+)"', page)
    assert sorted(srcs) == sorted(expected)  # relative links, nothing else
    for label, value in s.rows():
        assert f"<td>{label}</td><td>{value}</td>" in page
    for cam, value in s.camera_rows():
        assert f"<td>{cam}</td><td class=\"num\">{value}</td>" in page
    assert "0.50 px" in page and "2.00 px" in page
