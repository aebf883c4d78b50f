"""The views camera exclusion set aside, given a soft say after the free fit
(core/fit/excluded_views.py)."""

from __future__ import annotations

import numpy as np

from skelsplat.core.camera import Rig
from skelsplat.core.fit.excluded_views import pull_to_excluded_views
from skelsplat.core.fit.skeleton import joint_information
from skelsplat.core.fit.synthetic import look_at_camera


def _rig(azimuths=(0.0, 170.0, 90.0)) -> Rig:
    """Three cameras at ``azimuths`` (degrees); by default 0 and 1 nearly opposite (depth
    along their axis poorly fixed) and 2 across."""
    cams = [look_at_camera(f"c{i}", [4 * np.cos(a), 4 * np.sin(a), 1.5], [0, 0, 1.0])
            for i, a in enumerate(np.radians(azimuths))]
    return Rig(cams, "three")


def _project(rig: Rig, X: np.ndarray) -> np.ndarray:  # [V, 2]
    uv = np.array([p @ np.append(X, 1) for p in rig.projection_matrices])
    return uv[:, :2] / uv[:, 2:]


def _case(rig: Rig, truth: np.ndarray, free: np.ndarray, excluded_uv: np.ndarray):
    """One frame, one joint: views 0 and 1 used (detections at the truth), view 2 excluded
    with detection ``excluded_uv``; the free fit at ``free``."""
    uv = _project(rig, truth)
    uv[2] = excluded_uv
    und = np.concatenate([uv, np.ones((3, 1))], 1)[None, None]  # [1, 1, V, 3]
    weight = np.array([[[1.0, 1.0, 0.0]]])
    return free[None, None], np.ones((1, 1), bool), und, weight


def test_no_excluded_view_leaves_the_point_and_its_information():
    rig = _rig()
    X = np.array([0.1, 0.0, 1.0])
    uv = _project(rig, X)
    und = np.concatenate([uv, np.ones((3, 1))], 1)[None, None]
    weight = np.ones((1, 1, 3))
    Y, info = pull_to_excluded_views(X[None, None], np.ones((1, 1), bool), und, rig, weight,
                                     0.0, 2.0)
    assert np.array_equal(Y, X[None, None])
    w2c = np.stack([c.world_to_cam for c in rig.cameras])
    assert np.allclose(info, joint_information(X[None, None], rig.K, w2c, weight))


def test_a_right_view_set_aside_pulls_depth_back():
    rig = _rig()
    truth = np.array([0.1, 0.0, 1.0])
    free = truth + np.array([0.06, -0.01, 0.0])  # 6 cm off along the used pair's axis
    right = _project(rig, truth)[2]  # view 2 saw the truth: ~20 px from the free point
    X, valid, und, weight = _case(rig, truth, free, right)
    Y, _ = pull_to_excluded_views(X, valid, und, rig, weight, 0.0, noise_px=3.0)
    before, after = (np.linalg.norm(P[0, 0] - truth) * 1000 for P in (X, Y))
    assert before > 55 and after < 0.5 * before, (before, after)


def test_a_gross_view_set_aside_barely_moves_a_well_fixed_point():
    rig = _rig((0.0, 90.0, 200.0))  # the used pair meets at 90 degrees
    truth = np.array([0.1, 0.0, 1.0])
    gross = _project(rig, truth)[2] + [150.0, -90.0]  # 175 px off
    X, valid, und, weight = _case(rig, truth, truth.copy(), gross)
    Y, _ = pull_to_excluded_views(X, valid, und, rig, weight, 0.0, noise_px=1.0)
    # soft-L1 at 2 px (twice the noise): a bounded pull, about 1.7 px at 300 px/m
    assert np.linalg.norm(Y[0, 0] - truth) * 1000 < 7.0  # measured 5.6 mm
