"""The fitter end to end on synthetic takes: accuracy, progress/cancel, bad input."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from skelsplat.core.camera import Rig
from skelsplat.core.errors import Cancelled, FitError
from skelsplat.core.fit import FitOptions, FitResult, fit_frames, fit_take
from skelsplat.core.fit.options import resolved_smooth
from skelsplat.core.fit.synthetic import look_at_camera, project_motion, random_motion, ring_rig
from skelsplat.core.fit.take import _torch_threads
from skelsplat.core.keypoints.multiview import Keypoints2D
from skelsplat.core.skeletons import get_joint_set
from skelsplat.core.triangulation import undistort_keypoints


def _take(F: int = 12, distortion: float = -0.12, seed: int = 0, noise: float = 0.0):
    rng = np.random.default_rng(seed)
    rig = ring_rig(4, distortion=distortion)
    X = random_motion(F, rng=rng)
    kp = project_motion(rig, X)
    if noise:
        kp[..., :2] += rng.normal(0, noise, kp[..., :2].shape) * (kp[..., 2:] > 0)
    return rig, X, Keypoints2D(kp, rig.names, "body_25", fps=30.0, source="synthetic")


def _mpjpe_mm(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.linalg.norm(a - b, axis=-1) * 1000


def test_noise_free_fit_recovers_ground_truth_from_perturbed_start():
    rig, X, kp = _take(F=8)
    und = np.moveaxis(undistort_keypoints(rig, np.moveaxis(kp.data, 1, 2)), 1, 2)
    init = X + np.random.default_rng(1).normal(0, 0.003, X.shape)  # ~5 mm off
    opts = FitOptions(iterations=80, symmetry_weight=0.0).resolved(4, False)
    w2c = np.stack([c.world_to_cam for c in rig])
    with _torch_threads(1):
        res = fit_frames(und, rig.K, w2c, init, rig.sizes, opts, opts.lr_mean_factor * rig.scale
                         * 1000, get_joint_set("body_25"))
    err = _mpjpe_mm(res.means, X)
    assert _mpjpe_mm(init, X).mean() > 4.0
    assert err.mean() < 0.3 and err.max() < 1.0
    assert res.covariances.shape == (8, 25, 3, 3)
    sig = np.sqrt(np.linalg.eigvalsh(res.covariances)) * 1000  # mm
    assert (sig > 5).all() and (sig < 60).all()


def test_fit_take_noise_free_with_distortion_is_sub_millimetre():
    rig, X, kp = _take(F=10)
    res = fit_take(kp, rig)
    assert isinstance(res, FitResult)
    assert res.joints3d.shape == (10, 25, 3) and res.valid.all()
    assert res.reprojection_error_px.shape == (10, 4, 25)
    err = _mpjpe_mm(res.joints3d, X)
    # default fast schedule (30 Adam steps from the exact triangulation): Adam's first,
    # sign-like steps leave ~0.4 mm of jitter (measured: mean 0.36, max 1.1 mm)
    assert err.mean() < 0.5 and err.max() < 1.5
    assert np.nanmax(res.reprojection_error_px) < 1.0
    assert res.diagnostics["iterations_mean"] >= 10
    assert set(res.diagnostics["timings_s"]) >= {"triangulation", "gaussian_fit", "total"}


def test_fit_beats_triangulation_with_outliers():
    rig, X, kp = _take(F=30, noise=1.5, seed=4)
    data = kp.data.copy()
    rng = np.random.default_rng(5)
    bad = rng.random(data.shape[:3]) < 0.15  # 15 % of detections 25-40 px off
    shift = rng.uniform(25, 40, bad.sum())[:, None] * rng.choice([-1, 1], (bad.sum(), 2))
    data[..., :2][bad] += shift
    kp2 = Keypoints2D(data, kp.camera_names, "body_25", fps=30.0)
    from skelsplat.core.triangulation import triangulate_dlt

    und = undistort_keypoints(rig, np.moveaxis(data, 1, 2))
    plain = triangulate_dlt(rig.projection_matrices, und[..., :2], und[..., 2])
    res = fit_take(kp2, rig)
    e_plain = _mpjpe_mm(plain, X).mean()
    e_init = _mpjpe_mm(res.initial, X).mean()
    e_fit = np.nanmean(_mpjpe_mm(res.joints3d, X))
    assert res.valid.all()
    # measured: plain 35.0, robust init 10.2, fit 9.0 mm
    assert e_fit < 0.92 * e_init and e_fit < 0.3 * e_plain, (e_plain, e_init, e_fit)
    assert np.median(_mpjpe_mm(res.joints3d, X)) < 0.95 * np.median(_mpjpe_mm(res.initial, X))


def test_progress_every_second_and_cancel_within_half_a_second():
    # Seconds of *work*: this process's CPU time, so that other jobs on a shared test
    # machine do not make the check flaky (on an idle machine wall time is lower still).
    rig, _, kp = _take(F=160, seed=2)
    calls: list[tuple[float, float]] = []
    res = fit_take(kp, rig, FitOptions(chunk_frames=32),
                   progress=lambda f, m: calls.append((time.process_time(), f)))
    times = np.array([c[0] for c in calls])
    fracs = np.array([c[1] for c in calls])
    assert len(calls) >= 5 and np.all(np.diff(fracs) >= -1e-12) and fracs[-1] == 1.0
    assert np.diff(times).max() < 1.0
    assert res.valid.all()

    cancel = threading.Event()
    set_at: list[float] = []

    def on_progress(f: float, m: str) -> None:
        if f > 0.3 and not cancel.is_set():
            cancel.set()
            set_at.append(time.process_time())

    with pytest.raises(Cancelled):
        fit_take(kp, rig, FitOptions(chunk_frames=32), progress=on_progress, cancel=cancel)
    assert time.process_time() - set_at[0] < 0.5


def test_too_few_cameras_and_mismatched_cameras_raise_fit_error():
    rig, _, kp = _take(F=3)
    with pytest.raises(FitError, match="at least 2"):
        fit_take(kp, Rig([rig[0]], "one.toml"))
    five = Rig([*rig.cameras, rig[0].with_name("cam4")], "five.toml")
    with pytest.raises(FitError, match="5 cameras"):
        fit_take(kp, five)
    with pytest.raises(FitError, match="mode='turbo'"):
        FitOptions(mode="turbo")
    with pytest.raises(FitError, match="swap_ratio"):
        FitOptions(swap_ratio=1.5)


def test_missing_zero_and_non_finite_detections_give_invalid_joints():
    rig, X, kp = _take(F=4)
    data = kp.data.copy()
    data[0, :, :, 2] = 0.0  # frame 0: nothing detected
    data[1, :, 3, 0] = np.nan  # joint 3 NaN in every view
    data[1, 1:, 4, 1] = np.inf  # joint 4 left with one view
    kp2 = Keypoints2D(data, kp.camera_names, "body_25")
    res = fit_take(kp2, rig, FitOptions(bridge_max_gap=0))
    assert not res.valid[0].any() and np.isnan(res.joints3d[0]).all()
    assert not res.valid[1, 3] and not res.valid[1, 4]
    assert np.isfinite(res.joints3d[res.valid]).all()
    assert np.isnan(res.joints3d[~res.valid]).all()
    assert _mpjpe_mm(res.joints3d[2:], X[2:]).max() < 1.0
    all_zero = Keypoints2D(np.zeros_like(data), kp.camera_names, "body_25")
    res0 = fit_take(all_zero, rig)
    assert not res0.valid.any() and np.isnan(res0.joints3d).all()
    motion = res0.to_motion()
    assert not motion.valid.any()


def test_camera_behind_the_subject_is_ignored():
    rig, X, kp = _take(F=4, distortion=0.0)
    away = look_at_camera("cam3", rig[3].center, 2 * rig[3].center - np.array([0, 0, 1.0]),
                          1200.0, (1280, 720))
    rig2 = Rig([*rig.cameras[:3], away], "behind")
    data = kp.data.copy()
    data[:, 3, :, :2] = [640.0, 360.0]  # 'detections' in a camera that cannot see the actor
    data[:, 3, :, 2] = 0.9
    res = fit_take(Keypoints2D(data, kp.camera_names, "body_25"), rig2)
    assert res.valid.all()
    # bone lengths estimated from only 4 frames of a ~0.4 mm fit: measured max 1.05 mm
    assert _mpjpe_mm(res.joints3d, X).max() < 1.5


def test_gap_bridging_marks_short_gaps_valid():
    rig, X, kp = _take(F=12)
    data = kp.data.copy()
    data[5:7, 1:, 7, 2] = 0.0  # left wrist seen by one camera for 2 frames
    res = fit_take(Keypoints2D(data, kp.camera_names, "body_25"), rig,
                   FitOptions(bridge_max_gap=3))
    assert res.valid[5:7, 7].all() and res.diagnostics["bridged"] == 2
    assert _mpjpe_mm(res.joints3d[5:7, 7], X[5:7, 7]).max() < 30.0
    res2 = fit_take(Keypoints2D(data, kp.camera_names, "body_25"), rig,
                    FitOptions(bridge_max_gap=1))
    assert not res2.valid[5:7, 7].any()


def test_reference_mode_agrees_with_fast_mode():
    rig, _, kp = _take(F=2, noise=1.0, seed=9)
    # "exact" renders stride-1 windows covering every support: the full-image loss.
    # Same loss in both (no bone term, occlusion-aware targets): what differs is the
    # optimiser schedule, frame batching and the sparse windows of fast mode.
    fast = fit_take(kp, rig, FitOptions(bone_length_weight=0.0))
    ref = fit_take(kp, rig, FitOptions(mode="reference", renderer="exact", renders_per_frame=400,
                                       occlusion_targets=True))
    assert ref.diagnostics["iterations_max"] == 100
    d = _mpjpe_mm(fast.joints3d, ref.joints3d)
    assert d.mean() < 0.5 and d.max() < 2.0, (d.mean(), d.max())


def test_to_motion_maps_to_canonical_joints():
    rig, _, kp = _take(F=3)
    res = fit_take(kp, rig, FitOptions(smooth="butterworth", smooth_cutoff_hz=14.0))
    res.valid[1, get_joint_set("body_25").index("left_ear")] = False
    res.joints3d[1, get_joint_set("body_25").index("left_ear")] = np.nan
    m = res.to_motion()
    js = get_joint_set("body_25")
    head = m.index("head")
    ears = [js.index("left_ear"), js.index("right_ear")]
    assert np.allclose(m.joints3d[0, head], res.joints3d[0, ears].mean(0))
    assert np.allclose(m.covariances[0, head], res.covariances[0, ears].sum(0) / 4)
    assert not m.valid[1, head] and m.valid[0, head]
    assert m.joint_names[0] == "pelvis" and "head_top" not in m.joint_names
    assert np.allclose(m.joints3d[:, m.index("left_wrist")],
                       res.joints3d[:, js.index("left_wrist")])
    assert m.reprojection_error_px.shape == (3, 4, len(m.joint_names))
    raw = res.to_motion(canonical=False)
    assert raw.joint_names == list(js.joints)


def test_butterworth_smoothing_is_zero_phase_and_keeps_gaps():
    from skelsplat.core.smoothing import butterworth_smooth

    fps = 60.0
    t = np.arange(300) / fps
    truth = np.stack([np.sin(2 * np.pi * 1.0 * t), np.cos(2 * np.pi * 0.5 * t), t], -1)[:, None]
    noisy = truth + np.random.default_rng(0).normal(0, 0.01, truth.shape)
    valid = np.ones((300, 1), bool)
    valid[140:150] = False
    noisy[140:150] = np.nan
    out = butterworth_smooth(noisy, valid, fps, cutoff_hz=4.0)
    assert np.isnan(out[140:150]).all() and np.isfinite(out[valid[:, 0]]).all()
    core = np.r_[20:120, 170:280]  # away from run edges
    raw_err = np.abs(noisy[core] - truth[core]).mean()
    sm_err = np.abs(out[core] - truth[core]).mean()
    assert sm_err < 0.4 * raw_err  # ~0.008 -> ~0.002 m
    # zero phase: no lag on the 1 Hz sine (a causal filter would lag by ~50 ms = 3 frames)
    lag = np.argmax(np.correlate(out[core, 0, 0], truth[core, 0, 0], "full")) - (len(core) - 1)
    assert lag == 0
    with pytest.raises(ValueError):
        butterworth_smooth(noisy, valid, 0.0)


def test_heavy_corruption_fit_far_better_than_robust_triangulation():
    # 30 % of detections missing, 15 % outliers (60 px), 5 % of views left/right swapped
    rig, X, kp = _take(F=90, noise=2.0, seed=12)
    rng = np.random.default_rng(13)
    data = kp.data.copy()
    occ = rng.random(data.shape[:3]) < 0.30
    out = (rng.random(data.shape[:3]) < 0.15) & ~occ
    data[..., :2][out] += rng.normal(0, 60, (out.sum(), 2))
    swap = rng.random(data.shape[:2]) < 0.05
    data[swap] = data[swap][:, get_joint_set("body_25").flip_permutation()]
    data[occ] = 0.0
    from skelsplat.core.triangulation import triangulate_robust

    Xr, _, _ = triangulate_robust(rig, np.moveaxis(data, 1, 2))
    res = fit_take(Keypoints2D(data, kp.camera_names, "body_25", fps=30.0), rig)
    e_tri = np.nanmean(_mpjpe_mm(Xr, X))
    e_fit = np.nanmean(_mpjpe_mm(res.joints3d, X))
    # measured: triangulation ~90 mm over 92 % of joints, fit ~16 mm over 96 %
    assert e_fit < 0.4 * e_tri, (e_tri, e_fit)
    assert res.valid.mean() > np.isfinite(Xr).all(-1).mean()


def test_default_smoothing_is_whittaker_with_or_without_a_frame_rate():
    assert FitOptions().resolved(4, False).smooth == "whittaker"  # the frame rate is not asked
    assert FitOptions(mode="reference").resolved(4, False).smooth == "off"
    assert FitOptions(smooth="off").resolved(4, False).smooth == "off"
    assert resolved_smooth("auto", "fast") == "whittaker"
    assert resolved_smooth("auto", "reference") == "off"
    assert resolved_smooth("butterworth", "reference") == "butterworth"
    assert FitOptions().resolved(4, False).bone_check is True
    assert FitOptions(mode="reference").resolved(4, False).bone_check is False
    assert FitOptions().resolved(4, False).skeleton == "rigid"
    assert FitOptions(mode="reference").resolved(4, False).skeleton == "off"
    rig, X, kp = _take(F=40, noise=3.0, seed=21)
    res = fit_take(kp, rig)  # fps 30 -> acceleration-penalty smoothing, per-joint weights
    cut = res.diagnostics["smooth_cutoff_hz"]
    assert res.diagnostics["smooth"] == "whittaker" and len(cut) == X.shape[1]
    assert all(0.3 <= c <= 15.0 for c in cut)
    per_frame = res.diagnostics["smooth_cutoff_per_frame"]
    np.testing.assert_allclose(np.array(per_frame) * 30.0, cut)
    # smoothing off, no skeleton: the free per-frame fit, which is the raw output
    raw = fit_take(kp, rig, FitOptions(skeleton="off", smooth="off"))
    assert raw.diagnostics["smooth"] == "off" and raw.diagnostics["smooth_cutoff_hz"] is None
    np.testing.assert_allclose(res.raw_joints3d, raw.joints3d, atol=1e-9)
    # no frame rate: the same prior in frames (cut-offs per frame only, the same joints)
    no_rate = fit_take(Keypoints2D(kp.data, kp.camera_names, "body_25"), rig)
    assert no_rate.diagnostics["smooth"] == "whittaker"
    assert no_rate.diagnostics["smooth_cutoff_hz"] is None
    np.testing.assert_allclose(no_rate.diagnostics["smooth_cutoff_per_frame"], per_frame)
    np.testing.assert_allclose(no_rate.joints3d, res.joints3d, atol=1e-9)
    with pytest.raises(FitError, match="needs the take's frame rate") as err:
        fit_take(Keypoints2D(kp.data, kp.camera_names, "body_25"), rig,
                 FitOptions(smooth="whittaker", smooth_cutoff_hz=4.0))
    assert err.value.option == "fps"
    # measured: raw 8.8 mm, smoothed 4.7 mm on 3 px white noise
    assert np.nanmean(_mpjpe_mm(res.joints3d, X)) < 0.8 * np.nanmean(_mpjpe_mm(raw.joints3d, X))


def _bone_lengths(X: np.ndarray) -> np.ndarray:
    from skelsplat.core.fit.skeleton import bone_tree

    _, bones = bone_tree(get_joint_set("body_25"))
    return np.linalg.norm(X[:, bones[:, 1]] - X[:, bones[:, 0]], axis=-1)  # [F, B]


def test_one_skeleton_per_take_constant_bones_and_true_lengths(tmp_path):
    """A noisy 4-view take (4 px): bone lengths constant in the output (also in the saved
    joints.npz) and within 5 mm of the synthetic actor's."""
    from skelsplat.core.motion import Motion3D

    rig, X, kp = _take(F=90, noise=4.0, seed=5, distortion=0.0)
    res = fit_take(kp, rig)
    assert res.skeleton is not None and res.valid.all()
    true_L = _bone_lengths(X)[0]
    np.testing.assert_allclose(_bone_lengths(X).std(0), 0.0, atol=1e-9)  # rigid actor
    err_mm = np.abs(res.skeleton.lengths_m - true_L) * 1000
    assert err_mm.max() < 5.0, err_mm.round(1)  # measured: max 4.4 mm, mean 1.8 mm
    L = _bone_lengths(res.joints3d)  # [F, B]
    assert np.abs(L - res.skeleton.lengths_m).max() < 1e-6  # metres: constant to 1 micron
    free = _bone_lengths(res.raw_joints3d)  # the per-frame fit before the skeleton
    assert free.std(0).max() > 1e-3
    assert res.diagnostics["skeleton"]["bone_names"][0] == "mid_hip-neck"
    assert "best-supported frames" in res.skeleton.method
    # canonical output saved to joints.npz carries the rigid bones
    path = res.to_motion().save_npz(tmp_path / "joints.npz")
    m = Motion3D.load_npz(path)
    assert len(m.bone_names) >= 16 and m.bone_lengths.shape == (len(m.bone_names),)
    for name, length in zip(m.bone_names, m.bone_lengths):
        a, b = (m.joint_names.index(n) for n in name.split("-"))
        d = np.linalg.norm(m.joints3d[:, a] - m.joints3d[:, b], axis=-1)
        assert np.abs(d - length).max() < 1e-6, name
    data = np.load(path)
    assert "bone_names" in data.files and "bone_lengths" in data.files


def test_skeleton_off_keeps_the_free_fit():
    rig, _, kp = _take(F=20, noise=3.0, seed=6)
    res = fit_take(kp, rig, FitOptions(skeleton="off", smooth="off"))
    assert res.skeleton is None and res.diagnostics["skeleton"] is None
    assert _bone_lengths(res.joints3d).std(0).max() > 1e-3
    assert res.to_motion().bone_lengths is None
