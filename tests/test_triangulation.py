"""Triangulation: weighted DLT, robust camera exclusion, gap bridging."""

from __future__ import annotations

import numpy as np
import pytest

from skelsplat.core.fit.synthetic import project_motion, random_motion, ring_rig
from skelsplat.core.triangulation import (
    bridge_gaps,
    reprojection_errors,
    triangulate_dlt,
    triangulate_robust,
    undistort_keypoints,
)


@pytest.fixture(scope="module")
def rig():
    return ring_rig(4, distortion=-0.15)


@pytest.fixture(scope="module")
def take(rig):
    X = random_motion(40, rng=np.random.default_rng(3))
    return X, project_motion(rig, X)


def test_dlt_exact_on_noise_free_points_any_batch(rig, take):
    X, kp = take
    uv = undistort_keypoints(rig, np.moveaxis(kp, 1, 2))[..., :2]  # [F, J, V, 2]
    P = rig.projection_matrices
    Xh = triangulate_dlt(P, uv)
    assert Xh.shape == X.shape
    assert np.abs(Xh - X).max() < 1e-6  # metres: < 1 um
    # one point, no batch
    assert np.abs(triangulate_dlt(P, uv[0, 0]) - X[0, 0]).max() < 1e-6
    err = reprojection_errors(P, Xh, uv)
    assert err.shape == (40, 25, 4) and np.nanmax(err) < 1e-4


def test_dlt_weights_and_missing_views(rig, take):
    X, kp = take
    uv = undistort_keypoints(rig, np.moveaxis(kp, 1, 2))[:5, ..., :2]  # [5, J, V, 2]
    P = rig.projection_matrices
    bad = uv.copy()
    bad[..., 0, :] += 80.0  # view 0 off by 80 px
    w = np.array([0.0, 1.0, 1.0, 1.0])
    assert np.abs(triangulate_dlt(P, bad, w) - X[:5]).max() < 1e-6
    assert np.abs(triangulate_dlt(P, bad) - X[:5]).max() > 0.005
    nan = uv.copy()
    nan[..., 1:, :] = np.nan  # one view left
    assert np.isnan(triangulate_dlt(P, nan)).all()
    w2 = np.zeros((5, 25, 4))
    w2[..., :2] = 1.0
    assert np.abs(triangulate_dlt(P, uv, w2) - X[:5]).max() < 1e-6
    with pytest.raises(ValueError, match=r"\[\.\.\., 4, 2\]"):
        triangulate_dlt(P, uv[..., :3, :])


def test_reprojection_error_behind_camera_is_inf(rig):
    P = rig.projection_matrices
    behind = rig.centers[0] + (rig.centers[0] - np.array([0, 0, 1.0]))
    err = reprojection_errors(P, behind, np.zeros((4, 2)))
    assert np.isinf(err[0]) and np.isfinite(err[1:]).all()


def test_robust_drops_outlier_view(rig, take):
    X, kp = take
    kp = np.moveaxis(kp, 1, 2).copy()  # [F, J, V, 3]
    rng = np.random.default_rng(1)
    kp[..., :2] += rng.normal(0, 1.0, kp[..., :2].shape)
    out = kp.copy()
    out[:, :, 2, :2] += 150.0  # view 2 is wrong by > 200 px for every joint
    Xr, used, err = triangulate_robust(rig, out, threshold_px=15)
    assert Xr.shape == (40, 25, 3) and used.shape == err.shape == (40, 25, 4)
    assert not used[..., 2].any() and used[..., [0, 1, 3]].all()
    mpjpe = np.linalg.norm(Xr - X, axis=-1).mean() * 1000
    naive = triangulate_dlt(rig.projection_matrices, undistort_keypoints(rig, out)[..., :2])
    assert mpjpe < 6.0  # 1 px noise, 3 views, f = 1200 at 4 m: a few mm
    assert np.linalg.norm(naive - X, axis=-1).mean() * 1000 > 50
    assert np.nanmin(err[..., 2]) > 150


def test_robust_keeps_min_views_and_invalid_when_too_few(rig, take):
    X, kp = take
    kp = np.moveaxis(kp, 1, 2)[:3].copy()  # [3, J, V, 3]
    kp[0, :, 1:, 2] = 0.0  # frame 0: only view 0
    kp[1, :, 2:, 2] = 0.0  # frame 1: views 0, 1
    kp[1, :, 1, :2] += 100.0  # ... and they disagree: cannot drop below 2
    Xr, used, err = triangulate_robust(rig, kp, threshold_px=15)
    assert np.isnan(Xr[0]).all() and not used[0].any()
    assert np.isfinite(Xr[1]).all() and used[1, :, :2].all()
    assert (err[1, :, :2] > 15).any()  # kept, but its error says it is poor
    assert np.isnan(err[1, :, 2:]).all()
    assert np.abs(Xr[2] - X[2]).max() < 1e-6
    # all-zero confidences, NaN and inf coordinates: invalid, never NaN with used views
    kp2 = kp.copy()
    kp2[2, :5, :, 2] = 0.0
    kp2[2, 5:10, :, 0] = np.nan
    kp2[2, 10:15, :, 1] = np.inf
    Xb, usedb, _ = triangulate_robust(rig, kp2)
    assert np.isnan(Xb[2, :15]).all() and not usedb[2, :15].any()


def test_bridge_gaps_short_only():
    F = 30
    t = np.arange(F, dtype=float)
    X = np.stack([t, 2 * t, np.ones(F)], -1)[:, None].repeat(2, 1)  # [F, 2, 3]
    valid = np.ones((F, 2), bool)
    valid[5:8, 0] = False  # gap 3: bridged
    valid[12:22, 0] = False  # gap 10: not bridged
    valid[:2, 1] = False  # leading gap: not bridged
    Xn = np.where(valid[..., None], X, np.nan)
    Xf, bridged = bridge_gaps(Xn, valid, max_gap=5)
    assert bridged[5:8, 0].all() and bridged.sum() == 3
    assert np.allclose(Xf[5:8, 0], X[5:8, 0])
    assert np.isnan(Xf[12:22, 0]).all() and np.isnan(Xf[:2, 1]).all()


def test_reject_temporal_outliers_flags_jumps_not_motion():
    from skelsplat.core.triangulation import reject_temporal_outliers

    F = 40
    t = np.arange(F) / 30.0
    X = np.stack([1.5 * t, np.sin(3 * t), np.ones(F)], -1)[:, None]  # 1.5 m/s, smooth
    valid = np.ones((F, 1), bool)
    X[10, 0] += [0.0, 0.3, 0.0]  # a 30 cm glitch
    X[0, 0] += [0.5, 0.0, 0.0]  # at the edge: no neighbours before it, never flagged
    out = reject_temporal_outliers(X, valid, 3, 0.15)
    assert out[10, 0] and out.sum() == 1


def test_pair_by_all_views_keeps_the_view_that_pins_depth():
    """Three views, two of them nearly opposite (157 degrees): Shelf actor 1's right wrist.
    Pose2Sim's rule keeps the opposite pair (a two-view point fits its own views) and lands
    far off in depth; scoring each pair over all three views does not."""
    from skelsplat.core.camera import Rig
    from skelsplat.core.fit.synthetic import look_at_camera

    cams = [look_at_camera(f"c{i}", [4 * np.cos(a), 4 * np.sin(a), 1.5], [0, 0, 1.0])
            for i, a in enumerate(np.radians([0.0, 57.0, 214.0]))]
    rig = Rig(cams, "three")
    X = np.array([0.1, 0.05, 1.0])
    uv = np.array([p @ np.append(X, 1) for p in rig.projection_matrices])
    uv = uv[:, :2] / uv[:, 2:]
    rng = np.random.default_rng(0)
    errors = []  # [trial, (old, new)] mm
    for _ in range(200):  # the detection errors of Shelf's frames, in random directions
        d = rng.normal(size=(3, 2))
        d /= np.linalg.norm(d, axis=1, keepdims=True)
        kp = np.concatenate([uv + d * [[21.0], [1.0], [41.0]], np.ones((3, 1))], 1)[None]
        old, _, _ = triangulate_robust(rig, kp, 15.0)
        new, used, _ = triangulate_robust(rig, kp, 15.0, pair_by_all_views=True)
        assert used.sum() == 2
        errors.append([np.linalg.norm(old[0] - X), np.linalg.norm(new[0] - X)])
    errors = np.array(errors) * 1000
    assert errors[:, 0].mean() > 120 and errors[:, 1].mean() < 70  # measured 135 -> 66 mm
    assert np.percentile(errors[:, 1], 90) < 90 < np.percentile(errors[:, 0], 90)
    assert (errors[:, 1] > errors[:, 0] + 5).mean() < 0.02  # worse by > 5 mm: 0.5 %
