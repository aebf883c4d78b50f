"""Triangulation baselines the fitter is measured against (our own implementations).

Every baseline takes detections ``keypoints`` [F, V, J, 3] (distorted pixels u, v and
confidence; 0 = missing) and a :class:`~skelsplat.core.camera.Rig`, and returns
``X`` [F, J, 3] metres with NaN where it cannot determine a joint.

- ``dlt``: linear triangulation of every detected view, equal weights.
- ``weighted_dlt``: the same, each view weighted by its detector confidence.
- ``camera_exclusion``: confidence-weighted DLT, then drop the worst view while the
  reprojection error exceeds a threshold (Pose2Sim's rule; ``triangulate_robust``).
- ``subset_search``: every subset of >= 2 detected views is triangulated; the one whose
  point has the most inlier views (error < threshold; ties: lowest mean inlier error)
  wins and the point is re-triangulated from its inliers (anipose's "ransac", exhaustive).
- ``robust_lsq``: all points of the take jointly by robust (soft-L1) least squares on
  reprojection error + a temporal acceleration penalty + per-bone constant lengths
  (anipose optimiser style), started from ``camera_exclusion``, analytic sparse Jacobian.
- ``pose2sim``: a pipeline modelled on Pose2Sim's default configuration: camera
  exclusion (15 px, detections with confidence >= 0.3, >= 2 views), gaps of <= 10 frames
  interpolated linearly, then a 4th-order zero-phase Butterworth low-pass at 6 Hz (a
  2nd-order design run forwards and backwards). Needs the take's frame rate.

:func:`oracle_skeleton_lsq` is not a baseline but the report's "what the data allow" row:
per-frame least squares on the reprojection error with the *ground-truth* bone lengths.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import numpy as np

from ..camera import Rig
from ..metrics import bone_lengths, nanmedian
from ..skeletons import get_joint_set
from ..triangulation import (
    DEFAULT_THRESHOLD_PX,
    bridge_gaps,
    reprojection_errors,
    triangulate_dlt,
    triangulate_robust,
    undistort_keypoints,
)


def _undistorted(keypoints: np.ndarray, rig: Rig) -> tuple[np.ndarray, np.ndarray]:
    kp = np.asarray(keypoints, dtype=float)
    if kp.ndim != 4 or kp.shape[1] != len(rig) or kp.shape[-1] != 3:
        raise ValueError(f"keypoints must be [F, {len(rig)}, J, 3], got {kp.shape}")
    und = undistort_keypoints(rig, np.moveaxis(kp, 1, 2))  # [F, J, V, 3]
    return und[..., :2], und[..., 2]


def dlt(keypoints: np.ndarray, rig: Rig) -> np.ndarray:
    """Unweighted DLT over every detected view -> [F, J, 3]."""
    uv, conf = _undistorted(keypoints, rig)
    return triangulate_dlt(rig.projection_matrices, uv, (conf > 0).astype(float))


def weighted_dlt(keypoints: np.ndarray, rig: Rig) -> np.ndarray:
    """Confidence-weighted DLT -> [F, J, 3]."""
    uv, conf = _undistorted(keypoints, rig)
    return triangulate_dlt(rig.projection_matrices, uv, conf)


def camera_exclusion(keypoints: np.ndarray, rig: Rig,
                     threshold_px: float = DEFAULT_THRESHOLD_PX) -> np.ndarray:
    """Pose2Sim-style camera exclusion to ``threshold_px`` -> [F, J, 3]."""
    X, _, _ = triangulate_robust(rig, np.moveaxis(np.asarray(keypoints, float), 1, 2),
                                 threshold_px=threshold_px)
    return X


def subset_search(keypoints: np.ndarray, rig: Rig, threshold_px: float = DEFAULT_THRESHOLD_PX,
                  chunk: int = 2048) -> np.ndarray:
    """Exhaustive camera-subset search (anipose "ransac" style) -> [F, J, 3]."""
    uv, conf = _undistorted(keypoints, rig)
    F, J, V, _ = uv.shape
    P = rig.projection_matrices
    subsets = np.array([[v in s for v in range(V)] for k in range(2, V + 1)
                        for s in itertools.combinations(range(V), k)])  # [S, V]
    uv_f, conf_f = uv.reshape(-1, V, 2), conf.reshape(-1, V)
    out = np.full((uv_f.shape[0], 3), np.nan)
    for a in range(0, uv_f.shape[0], chunk):
        u, c = uv_f[a:a + chunk], conf_f[a:a + chunk]  # [n, V, 2], [n, V]
        det = c > 0
        w = np.where(subsets[None] & det[:, None], c[:, None], 0.0)  # [n, S, V]
        complete = (subsets[None] <= det[:, None]).all(-1)  # subset fully detected
        Xs = triangulate_dlt(P, np.repeat(u[:, None], len(subsets), 1), w)  # [n, S, 3]
        err = reprojection_errors(P, Xs, np.repeat(u[:, None], len(subsets), 1))  # [n, S, V]
        inl = det[:, None] & (np.nan_to_num(err, nan=np.inf) < threshold_px)
        n_in = np.where(complete & np.isfinite(Xs).all(-1), inl.sum(-1), -1)
        mean_in = np.where(inl, err, 0.0).sum(-1) / np.maximum(inl.sum(-1), 1)
        score = n_in * 1e6 - np.minimum(mean_in, 1e5)
        best = np.argmax(score, axis=1)
        rows = np.arange(len(u))
        inliers = inl[rows, best] & (n_in[rows, best] >= 2)[:, None]
        X = triangulate_dlt(P, u, np.where(inliers, c, 0.0))
        # No consensus of >= 2 inliers: keep the best subset's own point.
        fallback = ~np.isfinite(X).all(-1)
        X[fallback] = Xs[rows, best][fallback]
        X[det.sum(-1) < 2] = np.nan
        out[a:a + chunk] = X
    return out.reshape(F, J, 3)


def _fill_nan(X: np.ndarray) -> np.ndarray:
    """Interpolate NaN joints over time; joints never seen take the frame's mean joint."""
    X = X.copy()
    F, J, _ = X.shape
    t = np.arange(F)
    for j in range(J):
        ok = np.isfinite(X[:, j]).all(-1)
        if ok.any() and not ok.all():
            for d in range(3):
                X[~ok, j, d] = np.interp(t[~ok], t[ok], X[ok, j, d])
    centre = np.nanmean(X, axis=1, keepdims=True)
    centre = np.where(np.isfinite(centre), centre, np.nanmean(X.reshape(-1, 3), 0))
    return np.where(np.isfinite(X), X, centre)


def robust_lsq(keypoints: np.ndarray, rig: Rig, joint_set: str = "body_25",
               threshold_px: float = DEFAULT_THRESHOLD_PX, smooth_weight: float = 0.1,
               length_weight: float = 0.2, max_nfev: int = 30,
               init: Callable[[np.ndarray, Rig], np.ndarray] | None = None) -> np.ndarray:
    """Joint robust least squares over the whole take -> [F, J, 3].

    Residuals (px-like units): sqrt(conf) x reprojection error (undistorted px) per view;
    ``smooth_weight`` x second difference of each joint (mm per frame^2); ``length_weight``
    x (bone length - that bone's take-wide length) (mm). Loss soft-L1 with scale
    ``threshold_px``. Joints whose initial estimate (camera exclusion + bridging of gaps up
    to 5 frames) is undetermined stay NaN in the output.
    """
    from scipy.optimize import least_squares
    from scipy.sparse import coo_matrix

    uv, conf = _undistorted(keypoints, rig)  # [F, J, V, 2], [F, J, V]
    F, J, _V, _ = uv.shape
    P = rig.projection_matrices
    bones = get_joint_set(joint_set).bone_indices
    B = len(bones)
    X0 = (init or camera_exclusion)(keypoints, rig)
    X0b, _ = bridge_gaps(X0, np.isfinite(X0).all(-1), max_gap=5)
    valid_out = np.isfinite(X0b).all(-1)
    if not valid_out.any():
        return X0b
    Xinit = _fill_nan(X0b)
    L0 = nanmedian(bone_lengths(Xinit, bones), axis=0)

    obs = np.nonzero(conf > 0)  # (f, j, v)
    n_obs = len(obs[0])
    sw = np.sqrt(conf[obs])
    u_obs = uv[obs]
    pid_obs = obs[0] * J + obs[1]  # point index
    v_obs = obs[2]
    n_acc = max(F - 2, 0) * J
    acc_f, acc_j = np.meshgrid(np.arange(max(F - 2, 0)), np.arange(J), indexing="ij")
    acc_f, acc_j = acc_f.ravel(), acc_j.ravel()
    len_f, len_b = np.meshgrid(np.arange(F), np.arange(B), indexing="ij")
    len_f, len_b = len_f.ravel(), len_b.ravel()
    n_pts = F * J

    def unpack(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return x[: n_pts * 3].reshape(F, J, 3), x[n_pts * 3:]

    def residuals(x: np.ndarray) -> np.ndarray:
        X, L = unpack(x)
        Xo = X.reshape(-1, 3)[pid_obs]
        h = np.einsum("nij,nj->ni", P[v_obs, :, :3], Xo) + P[v_obs, :, 3]
        r_proj = (h[:, :2] / h[:, 2:3] - u_obs) * sw[:, None]
        acc = (X[2:] - 2 * X[1:-1] + X[:-2]).reshape(-1, 3) * (1000 * smooth_weight)
        lengths = bone_lengths(X, bones)
        r_len = (lengths - L[None]).ravel() * (1000 * length_weight)
        return np.concatenate([r_proj.ravel(), acc.ravel(), r_len])

    def jacobian(x: np.ndarray) -> coo_matrix:
        X, _ = unpack(x)
        rows, cols, vals = [], [], []
        Xo = X.reshape(-1, 3)[pid_obs]
        Pv = P[v_obs]
        h = np.einsum("nij,nj->ni", Pv[:, :, :3], Xo) + Pv[:, :, 3]
        for k in range(2):  # u, v rows
            d = (Pv[:, k, :3] * h[:, 2:3] - Pv[:, 2, :3] * h[:, k:k + 1]) / h[:, 2:3] ** 2
            d *= sw[:, None]
            r = np.repeat(2 * np.arange(n_obs) + k, 3)
            c = (3 * pid_obs[:, None] + np.arange(3)).ravel()
            rows.append(r)
            cols.append(c)
            vals.append(d.ravel())
        base = 2 * n_obs
        for off, coef in ((0, 1.0), (1, -2.0), (2, 1.0)):
            pid = (acc_f + off) * J + acc_j
            for d in range(3):
                rows.append(base + 3 * np.arange(n_acc) + d)
                cols.append(3 * pid + d)
                vals.append(np.full(n_acc, coef * 1000 * smooth_weight))
        base += 3 * n_acc
        diff = X[:, bones[:, 0]] - X[:, bones[:, 1]]
        norm = np.maximum(np.linalg.norm(diff, axis=-1, keepdims=True), 1e-9)
        unit = (diff / norm).reshape(-1, 3)
        r = base + np.arange(F * B)
        pa = len_f * J + bones[len_b, 0]
        pb = len_f * J + bones[len_b, 1]
        for d in range(3):
            rows += [r, r]
            cols += [3 * pa + d, 3 * pb + d]
            vals += [unit[:, d] * 1000 * length_weight, -unit[:, d] * 1000 * length_weight]
        rows.append(r)
        cols.append(3 * n_pts + len_b)
        vals.append(np.full(F * B, -1000 * length_weight))
        n_res = base + F * B
        return coo_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                          shape=(n_res, 3 * n_pts + B)).tocsr()

    x0 = np.concatenate([Xinit.ravel(), L0])
    sol = least_squares(residuals, x0, jac=jacobian, loss="soft_l1", f_scale=threshold_px,
                        method="trf", tr_solver="lsmr", max_nfev=max_nfev, x_scale="jac")
    X, _ = unpack(sol.x)
    X = X.copy()
    X[~valid_out] = np.nan
    return X


#: Pose2Sim-style defaults (see the module docstring).
POSE2SIM_MIN_CONFIDENCE = 0.3
POSE2SIM_MAX_GAP = 10
POSE2SIM_CUTOFF_HZ = 6.0


def pose2sim(keypoints: np.ndarray, rig: Rig, fps: float | None = None) -> np.ndarray:
    """Camera exclusion, gap interpolation, zero-phase Butterworth -> [F, J, 3]."""
    from ..smoothing import butterworth_smooth

    if not fps:
        raise ValueError("pose2sim needs the take's frame rate (its filter is in Hz)")
    X, _, _ = triangulate_robust(rig, np.moveaxis(np.asarray(keypoints, float), 1, 2),
                                 threshold_px=DEFAULT_THRESHOLD_PX,
                                 min_confidence=POSE2SIM_MIN_CONFIDENCE)
    Xb, _ = bridge_gaps(X, np.isfinite(X).all(-1), max_gap=POSE2SIM_MAX_GAP)
    return butterworth_smooth(Xb, np.isfinite(Xb).all(-1), fps, POSE2SIM_CUTOFF_HZ, order=2)


pose2sim.needs_frame_rate = True


def oracle_skeleton_lsq(keypoints: np.ndarray, rig: Rig, lengths_m: np.ndarray,
                        joint_set: str = "body_25", threshold_px: float = DEFAULT_THRESHOLD_PX,
                        iterations: int = 4) -> np.ndarray:
    """Per-frame least squares with known bone lengths -> [F, J, 3].

    ``lengths_m`` [B]: the true length of each bone of ``core.fit.skeleton.bone_tree``.
    Starts from camera exclusion (its inlier views are the ones used, weighted by
    confidence) and runs Gauss-Newton on the reprojection error: each round linearises the
    projections at the current pose and poses the skeleton on the linearised problem
    (``core.fit.skeleton.pose_under_skeleton``)."""
    from ..fit.skeleton import Skeleton, bone_tree, joint_information, pose_under_skeleton

    js = get_joint_set(joint_set)
    kp = np.moveaxis(np.asarray(keypoints, float), 1, 2)  # [F, J, V, 3]
    und = undistort_keypoints(rig, kp)
    X, used, _ = triangulate_robust(rig, und, threshold_px=threshold_px, undistorted=True)
    valid = np.isfinite(X).all(-1)
    w = np.where(used, np.nan_to_num(und[..., 2]), 0.0)  # [F, J, V]
    _, bones = bone_tree(js)
    skel = Skeleton(js.name, bones, [], np.asarray(lengths_m, float), "ground truth")
    w2c = rig.world_to_cams
    P = rig.projection_matrices
    Y = X
    for _ in range(iterations):
        H = joint_information(Y, rig.K, w2c, w)  # [F, J, 3, 3]
        Yz = np.nan_to_num(Y)
        h = np.einsum("vik,fjk->fjvi", P[:, :, :3], Yz) + P[:, :, 3]  # [F, J, V, 3]
        z = np.where(np.abs(h[..., 2]) > 1e-9, h[..., 2], 1e-9)
        r = h[..., :2] / z[..., None] - np.nan_to_num(und[..., :2])  # [F, J, V, 2] px
        # gradient of 1/2 sum w |r|^2 through each view's projection Jacobian
        R, t = w2c[:, :3, :3], w2c[:, :3, 3]
        pc = np.einsum("vik,fjk->fjvi", R, Yz) + t
        zc = np.where(np.abs(pc[..., 2]) > 1e-9, pc[..., 2], 1e-9)
        fx, fy = rig.K[:, 0, 0], rig.K[:, 1, 1]
        Jc = np.zeros((*pc.shape[:3], 2, 3))
        Jc[..., 0, 0] = fx / zc
        Jc[..., 0, 2] = -fx * pc[..., 0] / zc ** 2
        Jc[..., 1, 1] = fy / zc
        Jc[..., 1, 2] = -fy * pc[..., 1] / zc ** 2
        Jw = np.einsum("fjvab,vbc->fjvac", Jc, R)
        g = np.einsum("fjv,fjvai,fjva->fji", w, Jw, r)  # [F, J, 3]
        Hf = H + 1e-6 * np.eye(3)
        target = Yz - np.linalg.solve(Hf, g[..., None])[..., 0]
        Y = pose_under_skeleton(target, H, valid, skel, js)
    return Y


#: Name -> baseline function, in the order the report lists them.
BASELINES: dict[str, Callable[[np.ndarray, Rig], np.ndarray]] = {
    "dlt": dlt,
    "weighted_dlt": weighted_dlt,
    "camera_exclusion": camera_exclusion,
    "subset_search": subset_search,
    "robust_lsq": robust_lsq,
    "pose2sim": pose2sim,
}
