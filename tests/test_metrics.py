"""core.metrics: the one definition of reprojection error, bone lengths and NaN-aware means
(and the places that measure them give the same numbers)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from skelsplat.core import metrics
from skelsplat.core.bench import metrics as bench_metrics
from skelsplat.core.fit.synthetic import project_motion, random_motion, ring_rig
from skelsplat.core.skeletons import get_joint_set

JS = get_joint_set("body_25")


def test_nan_aware_means_skip_nan_and_never_warn() -> None:
    x = np.array([[1.0, np.nan, 4.0], [3.0, np.nan, np.inf]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_allclose(metrics.nanmean(x, axis=0), [2.0, np.nan, 4.0])
        np.testing.assert_allclose(metrics.nanmax(x, axis=0), [3.0, np.nan, 4.0])
        np.testing.assert_allclose(metrics.nanmedian(x, axis=0), [2.0, np.nan, 4.0])
        assert float(metrics.nanmean(x)) == pytest.approx(8.0 / 3.0)
        assert np.isnan(metrics.mean_reprojection_error(np.full((2, 3, 4), np.nan)))


def test_reprojection_errors_in_px_per_frame_view_joint() -> None:
    rig = ring_rig(3)
    X = random_motion(4, rng=np.random.default_rng(1))  # [F, J, 3]
    kp = project_motion(rig, X)  # [F, V, J, 3]
    kp[:, 2, :, 1] += 4.0  # camera 3: detections 4 px lower
    assert (kp[..., 2] > 0).all()
    kp[1, 0, 7, 2] = 0.0  # a missing detection
    X[3, 5] = np.nan  # an invalid joint
    err = metrics.reprojection_errors(rig, X, kp)
    assert err.shape == (4, 3, 25)
    np.testing.assert_allclose(err[:3, 2], 4.0, atol=1e-6)
    assert np.nanmax(err[:, :2]) < 1e-6
    assert np.isnan(err[1, 0, 7]) and np.isnan(err[3, :, 5]).all()
    defined = np.isfinite(err)
    assert defined.sum() == 4 * 3 * 25 - 1 - 3
    assert metrics.mean_reprojection_error(err) == pytest.approx(
        4.0 * defined[:, 2].sum() / defined.sum(), abs=1e-6)
    with pytest.raises(ValueError, match="do not match"):
        metrics.reprojection_errors(rig, X, kp[:, :2])
    # the benchmark's median uses the same errors
    assert bench_metrics.reprojection_error_px(X, rig, kp) == pytest.approx(
        float(np.nanmedian(err)))


def test_joint_error_stats_mean_max_and_per_frame() -> None:
    err = np.full((2, 3, 2), np.nan)
    err[0, :, 0] = [1.0, 2.0, 6.0]
    err[1, 0, 0] = 3.0
    mean, peak, per_frame = metrics.joint_error_stats(err)
    np.testing.assert_allclose(mean, [3.0, np.nan])
    np.testing.assert_allclose(peak, [6.0, np.nan])
    np.testing.assert_allclose(per_frame, [[3.0, np.nan], [3.0, np.nan]])


def test_bone_lengths_std_and_typical_lengths_in_metres() -> None:
    X = np.zeros((5, 2, 3))
    X[:, 1, 0] = [0.30, 0.31, 0.29, 0.30, 0.90]  # one gross error
    bones = np.array([[0, 1]])
    L = metrics.bone_lengths(X, bones)
    np.testing.assert_allclose(L[:, 0], [0.30, 0.31, 0.29, 0.30, 0.90])
    np.testing.assert_allclose(metrics.bone_length_std(L[:4]), [np.std([0.30, 0.31, 0.29, 0.30])])
    med, spread = metrics.bone_length_statistics(X, bones)
    assert med[0] == pytest.approx(0.30)  # the median ignores the gross error
    assert spread[0] == pytest.approx(1.4826 * 0.01)
    trusted = np.ones((5, 2), bool)
    trusted[:3] = False  # too few trusted frames: every finite frame is used
    assert metrics.typical_bone_lengths(X, bones, trusted)[0] == pytest.approx(0.30)
    assert np.isnan(metrics.typical_bone_lengths(X[:2], bones)).all()  # < 3 samples
    X[2, 1] = np.nan
    assert np.isnan(metrics.bone_lengths(X, bones)[2, 0])
    # the benchmark's mean per-bone std (mm) is the same statistic
    J = random_motion(20, rng=np.random.default_rng(2))
    per_bone = metrics.bone_length_std(metrics.bone_lengths(J, JS.bone_indices) * 1000.0)
    assert bench_metrics.bone_length_std(J, JS.bone_indices) == pytest.approx(
        float(np.mean(per_bone)))
