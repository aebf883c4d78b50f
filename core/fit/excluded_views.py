"""The views the initial triangulation set aside, given a soft say after the free fit.

The heatmap loss only sees a detection within a few pixels of its Gaussian's projection, so a
view that camera exclusion dropped (15-150 px off the point) has no pull on the free fit,
whatever weight it is given. Yet on biased detectors such views still carry information:
their errors do not all point the same way. Each free point ``X`` is moved to

    argmin_Y  (Y - X)^T H (Y - X) + sum_v c_v rho(|pi_v(Y) - u_v|^2)

over the excluded views ``v`` (detected above ``min_confidence``, weight 0 in the fit), with
``H`` the information of the views the fit used (:func:`.skeleton.joint_information` plus the
posing floor), ``c_v`` the detection's confidence and ``rho`` the soft-L1 loss at a scale of
``NOISE_SCALE`` times the detection noise measured on the used views, at most
``MAX_SCALE_PX``: a view far off pulls with a bounded force, a view near the point counts
almost fully. (Scaling with the noise keeps gross outliers of a precise detector from
biasing it; the cap keeps the pull of far views moderate on noisy ones.) Solved by a few
rounds of iteratively reweighted Gauss-Newton, every joint on its own.
"""

from __future__ import annotations

import numpy as np

from ..camera import Rig
from .skeleton import information_floor, joint_information, pinhole_jacobian

#: Soft-L1 scale of an excluded view's reprojection error, in units of the detection noise.
NOISE_SCALE = 2.0
#: Upper bound of that scale (px).
MAX_SCALE_PX = 10.0
#: Reweighted Gauss-Newton rounds.
ROUNDS = 4


def pull_to_excluded_views(
    X: np.ndarray,  # [F, J, 3] metres, the free fit
    valid: np.ndarray,  # [F, J] bool
    und: np.ndarray,  # [F, J, V, 3] undistorted detections (u, v px, confidence)
    rig: Rig,
    weight: np.ndarray,  # [F, J, V] the fit's weights (0 = view not used)
    min_confidence: float,
    noise_px: float,  # detection noise (px at confidence 1) on the used views
    block: int = 256,
) -> tuple[np.ndarray, np.ndarray]:  # [F, J, 3] moved points, [F, J, 3, 3] px^2 / m^2
    """The free points moved by the excluded views (NaN where ``valid`` is False), and the
    information of every detecting view: the used views' at the free points plus the
    excluded views' (soft-L1 weighted) at the moved points."""
    w2c = rig.world_to_cams
    H_used = joint_information(X, rig.K, w2c, weight)  # [F, J, 3, 3]
    floor = information_floor(H_used, valid)
    scale2 = max(min(NOISE_SCALE * noise_px, MAX_SCALE_PX), 1e-6) ** 2
    Y = np.where(valid[..., None], X, np.nan)
    H_ex = np.zeros_like(H_used)
    for s in range(0, len(X), block):
        e = min(len(X), s + block)
        conf = np.where(np.isfinite(und[s:e, ..., :2]).all(-1), und[s:e, ..., 2], 0.0)
        excluded = (conf > min_confidence) & (weight[s:e] <= 0) & valid[s:e, :, None]
        if excluded.any():
            Y[s:e], H_ex[s:e] = _pull_block(
                np.nan_to_num(X[s:e]), H_used[s:e] + floor * np.eye(3),
                np.nan_to_num(und[s:e, ..., :2]), np.where(excluded, conf, 0.0), rig, w2c,
                scale2)
            Y[s:e][~valid[s:e]] = np.nan
    return Y, H_used + H_ex


def _pull_block(X: np.ndarray, H: np.ndarray, uv: np.ndarray, conf: np.ndarray, rig: Rig,
                w2c: np.ndarray, scale2: float) -> tuple[np.ndarray, np.ndarray]:
    """One block: ``X`` [f, J, 3], ``H`` [f, J, 3, 3] (used views + floor), ``uv``
    [f, J, V, 2], ``conf`` [f, J, V] (0 = not an excluded view)."""
    R, t = w2c[:, :3, :3], w2c[:, :3, 3]  # [V, 3, 3], [V, 3]
    f_xy = np.stack([rig.K[:, 0, 0], rig.K[:, 1, 1]], -1)  # [V, 2]
    c_xy = np.stack([rig.K[:, 0, 2], rig.K[:, 1, 2]], -1)  # [V, 2]
    Y = X.copy()
    H_ex = np.zeros_like(H)
    for _ in range(ROUNDS):
        pc = np.einsum("vik,fjk->fjvi", R, Y) + t  # [f, J, V, 3] camera coordinates
        z = np.where(np.abs(pc[..., 2]) > 1e-9, pc[..., 2], 1e-9)
        r = f_xy * pc[..., :2] / z[..., None] + c_xy - uv  # [f, J, V, 2] px
        w = np.where(pc[..., 2] > 0, conf / np.sqrt(1.0 + (r ** 2).sum(-1) / scale2), 0.0)
        Jw = pinhole_jacobian(pc, z, f_xy[:, 0], f_xy[:, 1], R)  # [f, J, V, 2, 3] px/m
        H_ex = np.einsum("fjv,fjvai,fjvak->fjik", w, Jw, Jw)
        g = np.einsum("fjv,fjvai,fjva->fji", w, Jw, r) + np.einsum("fjik,fjk->fji", H, Y - X)
        Y = Y - np.linalg.solve(H + H_ex, g[..., None])[..., 0]
    return Y, H_ex
