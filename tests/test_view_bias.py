"""Each camera's constant detector bias per joint, estimated and removed before the fit
(core/fit/view_bias.py)."""

from __future__ import annotations

import numpy as np
import pytest

from skelsplat.core.fit import FitOptions, fit_take
from skelsplat.core.fit.synthetic import project_motion, random_motion, ring_rig
from skelsplat.core.fit.view_bias import MIN_FRAMES, estimate_view_bias, remove_view_bias
from skelsplat.core.keypoints.multiview import Keypoints2D
from skelsplat.core.triangulation import triangulate_robust

RIG = ring_rig(4)


def _take(n_frames: int, bias_px: float, noise_px: float = 1.0, seed: int = 0):
    """Truth [F, J, 3] and detections [F, V, J, 3]: view 0 off by a constant ``bias_px`` in a
    random direction per joint, every view with i.i.d. ``noise_px`` noise; the true bias
    [J, 2] of view 0."""
    rng = np.random.default_rng(seed)
    truth = random_motion(n_frames, rng=rng)
    kp = project_motion(RIG, truth)
    J = truth.shape[1]
    ang = rng.uniform(0, 2 * np.pi, J)
    bias = bias_px * np.stack([np.cos(ang), np.sin(ang)], -1)  # [J, 2]
    kp[..., :2] += rng.normal(0, noise_px, kp[..., :2].shape)
    kp[:, 0, :, :2] += bias
    return truth, kp, bias


def _estimate(kp: np.ndarray):
    und = np.moveaxis(kp, 1, 2)  # [F, J, V, 3] (the ring rig has no distortion)
    X, used, _ = triangulate_robust(RIG, und, 15.0, undistorted=True)
    return und, estimate_view_bias(RIG.projection_matrices, und, X, used, 15.0)


def _errors_mm(truth: np.ndarray, und: np.ndarray, views: list[int]) -> float:
    seen = und.copy()
    seen[:, :, [v for v in range(len(RIG)) if v not in views], 2] = 0.0
    X, _, _ = triangulate_robust(RIG, seen, 15.0, undistorted=True)
    return float(np.nanmean(np.linalg.norm(X - truth, axis=-1)) * 1000)


def test_a_biased_view_is_found_and_its_pull_removed():
    truth, kp, bias = _take(150, bias_px=6.0)
    und, est = _estimate(kp)
    assert (est.frames >= MIN_FRAMES).all()
    # the triangulated point follows view 0 part of the way, so the residuals show the
    # rest of its bias (measured: 0.64 of it along the true direction), and the other views
    # see that pull as a small bias of their own (measured: at most 3.1 px)
    found = np.einsum("jk,jk->j", est.px[:, 0], bias) / 6.0**2
    assert 0.5 < np.median(found) < 0.9
    assert np.linalg.norm(est.px[:, 1:], axis=-1).max() < 3.5
    fixed = remove_view_bias(und, est)
    # where the biased view is one of only two (the others hidden), the error drops
    # (measured: 15.3 -> 8.7 mm with view 1, 96.6 -> 30.4 mm with the opposite view 2) ...
    assert _errors_mm(truth, fixed, [0, 1]) < 0.7 * _errors_mm(truth, und, [0, 1])
    assert _errors_mm(truth, fixed, [0, 2]) < 0.4 * _errors_mm(truth, und, [0, 2])
    # ... while all four views give the same point: their least squares solution already
    # absorbed the part of the bias a 3D shift explains, and the rest is what was removed
    all_views = [0, 1, 2, 3]
    assert abs(_errors_mm(truth, fixed, all_views) - _errors_mm(truth, und, all_views)) < 0.3


def test_unbiased_views_are_left_as_they_are():
    # the medians of pure noise spread no wider than their sampling error: all shrunk to 0
    _, kp, _ = _take(150, bias_px=0.0)
    _, est = _estimate(kp)
    assert np.linalg.norm(est.px, axis=-1).max() < 0.05
    assert est.summary()["estimated"] == est.px.shape[0] * est.px.shape[1]


def test_a_short_take_estimates_nothing():
    _, kp, _ = _take(MIN_FRAMES - 1, bias_px=6.0)
    und, est = _estimate(kp)
    assert (est.px == 0).all() and est.summary()["estimated"] == 0
    np.testing.assert_array_equal(remove_view_bias(und, est), und)


@pytest.mark.parametrize("mode, expected", [("fast", True), ("reference", False)])
def test_bias_correction_defaults(mode, expected):
    assert FitOptions(mode=mode).resolved(4, cuda=False).bias_correction is expected


def test_fit_with_bias_correction_is_closer_to_the_truth():
    truth, kp, _ = _take(90, bias_px=8.0, noise_px=2.0, seed=1)
    # views 2 and 3 miss every other frame: there the biased view is one of two
    kp[::2, 2:, :, 2] = 0.0
    take = Keypoints2D(kp, list(RIG.names), "body_25", fps=30.0)
    err = {}
    for on in (False, True):
        res = fit_take(take, RIG, FitOptions(bias_correction=on, device="cpu"))
        err[on] = float(np.nanmean(np.linalg.norm(res.joints3d - truth, axis=-1)) * 1000)
        assert ("view_bias" in res.diagnostics) is on
    assert err[True] < 0.85 * err[False]
    assert res.diagnostics["view_bias"]["max_px"] > 4.0
