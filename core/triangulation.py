"""Multi-view triangulation: weighted DLT, robust camera exclusion and gap bridging.

Everything is vectorised over an arbitrary batch ``...`` (frames, joints, ...). Pixel
coordinates given to :func:`triangulate_dlt` and :func:`reprojection_errors` are *ideal*
(undistorted) pixels of the projection matrices ``P = K [R | t]``;
:func:`triangulate_robust` takes the detector's distorted pixels and a rig, and undistorts
them itself.
"""

from __future__ import annotations

import warnings

import numpy as np

from .camera import Rig

#: Pose2Sim's default reprojection threshold for excluding cameras (pixels).
DEFAULT_THRESHOLD_PX = 15.0


def _check_P(P: np.ndarray) -> np.ndarray:
    P = np.asarray(P, dtype=float)
    if P.ndim != 3 or P.shape[1:] != (3, 4):
        raise ValueError(f"P must be [V, 3, 4] projection matrices, got shape {P.shape}")
    return P


def _world_normalisation(P: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Re-express P for world coordinates centred on the cameras and scaled to ~1.

    Returns ``(P', c, s)`` with ``X = s X' + c``: conditioning for the normal equations.
    """
    # Camera centres: null space of each P (right singular vector of the smallest value).
    _, _, vt = np.linalg.svd(P)
    h = vt[:, -1, :]
    finite = np.abs(h[:, 3]) > 1e-12
    centres = h[finite, :3] / h[finite, 3:4]
    if len(centres) == 0:
        return P, np.zeros(3), 1.0
    c = centres.mean(0)
    s = float(np.sqrt(((centres - c) ** 2).sum(-1).mean()))
    s = s if s > 1e-9 else 1.0
    M = np.eye(4)
    M[:3, :3] *= s
    M[:3, 3] = c
    return P @ M, c, s


def triangulate_dlt(
    P: np.ndarray,  # [V, 3, 4]
    uv: np.ndarray,  # [..., V, 2]
    weights: np.ndarray | None = None,  # [..., V]
) -> np.ndarray:  # [..., 3]
    """Weighted linear (DLT) triangulation, batched.

    Each view contributes the two rows ``u P3 - P1`` and ``v P3 - P2``, each scaled to unit
    norm (conditioning) and multiplied by the view's weight; the point is the eigenvector of
    the smallest eigenvalue of the 4x4 normal matrix ``A^T A``. World coordinates are
    centred/scaled on the cameras before solving.

    Args:
        P: [V, 3, 4] projection matrices for undistorted pixels.
        uv: [..., V, 2] undistorted pixels. Non-finite entries count as unused views.
        weights: [..., V] non-negative weights (0 = view unused); None = all 1.
    Returns:
        [..., 3] float64 points in world units; NaN where fewer than 2 views were used or the
        solution is at infinity.
    """
    P = _check_P(P)
    V = P.shape[0]
    uv = np.asarray(uv, dtype=float)
    if uv.ndim < 2 or uv.shape[-2:] != (V, 2):
        raise ValueError(f"uv must be [..., {V}, 2] for {V} projection matrices, got {uv.shape}")
    batch = uv.shape[:-2]
    if weights is None:
        w = np.ones((*batch, V))
    else:
        w = np.broadcast_to(np.asarray(weights, dtype=float), (*batch, V))
    ok = np.isfinite(uv).all(-1) & np.isfinite(w) & (w > 0)
    w = np.where(ok, w, 0.0)
    uvz = np.where(ok[..., None], uv, 0.0)

    Pn, c, s = _world_normalisation(P)
    # rows [..., V, 2, 4]
    rows = uvz[..., :, :, None] * Pn[:, 2:3, :] - Pn[:, :2, :]
    norm = np.linalg.norm(rows, axis=-1, keepdims=True)
    rows = rows / np.where(norm > 0, norm, 1.0)
    rows = rows * w[..., :, None, None]
    rows = rows.reshape((*batch, 2 * V, 4))
    A = np.einsum("...ri,...rj->...ij", rows, rows)
    _, vecs = np.linalg.eigh(A)
    h = vecs[..., :, 0]  # eigenvector of the smallest eigenvalue
    with np.errstate(divide="ignore", invalid="ignore"):
        X = h[..., :3] / h[..., 3:4]
    X = X * s + c
    bad = (ok.sum(-1) < 2) | (np.abs(h[..., 3]) < 1e-12) | ~np.isfinite(X).all(-1)
    X[bad] = np.nan
    return X


def project_points(P: np.ndarray, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Project points through every P.

    Args:
        P: [V, 3, 4]; X: [..., 3].
    Returns:
        uv [..., V, 2] undistorted pixels and depth [..., V] (NaN uv where depth <= 0).
    """
    P = _check_P(P)
    X = np.asarray(X, dtype=float)
    x = np.einsum("vij,...j->...vi", P[:, :, :3], X) + P[:, :, 3]
    z = x[..., 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        uv = x[..., :2] / np.where(z > 1e-12, z, np.nan)[..., None]
    return uv, z


def reprojection_errors(
    P: np.ndarray,  # [V, 3, 4]
    X: np.ndarray,  # [..., 3]
    uv: np.ndarray,  # [..., V, 2]
) -> np.ndarray:  # [..., V]
    """Distance in pixels between the projection of X and the observation in every view.

    Returns [..., V]: NaN where X or uv is not finite, +inf where X is on or behind the
    camera plane (the observation cannot be explained).
    """
    proj, z = project_points(P, X)
    uv = np.asarray(uv, dtype=float)
    err = np.linalg.norm(proj - uv, axis=-1)
    finite = np.isfinite(uv).all(-1) & np.isfinite(np.asarray(X, dtype=float)).all(-1)[..., None]
    err = np.where(finite & ~(z > 1e-12), np.inf, err)
    return np.where(finite, err, np.nan)


def undistort_keypoints(rig: Rig, keypoints: np.ndarray) -> np.ndarray:
    """Distorted detections [..., V, 3] (u, v, conf) -> undistorted [..., V, 3], same conf.

    Missing detections (conf <= 0 or non-finite coordinates) get NaN coordinates and conf 0.
    """
    kp = np.asarray(keypoints, dtype=float)
    if kp.shape[-2:] != (len(rig), 3):
        raise ValueError(f"keypoints must be [..., {len(rig)}, 3] for the {len(rig)} cameras "
                         f"{rig.names}, got shape {kp.shape}")
    conf = np.where(np.isfinite(kp[..., 2]), kp[..., 2], 0.0)
    ok = np.isfinite(kp[..., :2]).all(-1) & (conf > 0)
    uv = np.where(ok[..., None], kp[..., :2], np.nan)
    out = np.empty_like(kp)
    for v, cam in enumerate(rig.cameras):
        col = uv[..., v, :]
        out[..., v, :2] = cam.undistort_points(col) if cam.has_distortion else col
    out[..., 2] = np.where(ok, conf, 0.0)
    return out


def triangulate_robust(
    rig: Rig,
    keypoints_uv_conf: np.ndarray,  # [..., V, 3]
    threshold_px: float = DEFAULT_THRESHOLD_PX,
    min_views: int = 2,
    min_confidence: float = 0.0,
    undistorted: bool = False,
    pair_by_all_views: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Confidence-weighted DLT with camera exclusion (Pose2Sim's rule), batched.

    Starts from every view with a detection (confidence > ``min_confidence``); while the
    largest reprojection error among the used views exceeds ``threshold_px`` and more than
    ``min_views`` views remain, drops one view: the one whose removal gives the smallest
    largest error of the re-triangulated point (leave-one-out, so an outlier that drags the
    estimate towards itself is still found). Points that end above the threshold are kept
    (with their errors reported); points with fewer than ``min_views`` views are NaN.

    ``pair_by_all_views``: the step from three views to two scores each candidate pair by
    its robust (Cauchy, scale ``threshold_px``) reprojection cost over all three views. By
    Pose2Sim's rule a two-view point always fits its own two views, so the most nearly
    parallel pair tends to win and the dropped view, the one that pinned the depth, ends far
    off (Shelf actor 1's right wrist: cameras 157 degrees apart kept, 335 mm off).

    Args:
        rig: the cameras, in the order of axis V.
        keypoints_uv_conf: [..., V, 3] detector pixels (distorted unless ``undistorted``) and
            confidence in [0, 1]; 0 / NaN = missing.
    Returns:
        X [..., 3] metres (NaN where undetermined), used_views [..., V] bool, errors [..., V]
        reprojection error in undistorted pixels of the final X in every view with a
        detection (NaN where there is none or X is NaN).
    """
    P, batch, und, conf, detected = _flat_views(rig, keypoints_uv_conf, min_views,
                                                min_confidence, undistorted)
    V = len(rig)
    uv = und[..., :2]
    used = detected.copy()
    X = triangulate_dlt(P, uv, np.where(used, conf, 0.0))
    eye = np.eye(V, dtype=bool)
    for _ in range(max(V - min_views, 0)):
        err = reprojection_errors(P, X, uv)
        worst = np.max(np.where(used, np.nan_to_num(err, nan=0.0), 0.0), axis=-1)
        todo = (worst > threshold_px) & (used.sum(-1) > min_views) & np.isfinite(X).all(-1)
        if not todo.any():
            break
        idx = np.nonzero(todo)[0]
        u_sub, c_sub, uv_sub = used[idx], conf[idx], uv[idx]  # [n, V], [n, V], [n, V, 2]
        cand = u_sub[:, None, :] & ~eye[None]  # [n, V(dropped), V]
        Xc = triangulate_dlt(P, np.repeat(uv_sub[:, None], V, 1), np.where(cand, c_sub[:, None], 0))
        ec = reprojection_errors(P, Xc, np.repeat(uv_sub[:, None], V, 1))
        score = np.max(np.where(cand, np.nan_to_num(ec, nan=np.inf), 0.0), axis=-1)  # [n, V]
        if pair_by_all_views:
            to_pair = (u_sub.sum(-1) == 3)[:, None]
            score = np.where(to_pair, cauchy_cost(ec, u_sub[:, None, :], threshold_px), score)
        score = np.where(u_sub & np.isfinite(Xc).all(-1), score, np.inf)
        best = np.argmin(score, axis=-1)
        possible = np.isfinite(score[np.arange(len(best)), best])
        rows = idx[possible]
        used[rows, best[possible]] = False
        X[rows] = Xc[possible, best[possible]]
        if not possible.any():
            break
    X[used.sum(-1) < min_views] = np.nan
    return _unflatten(P, X, uv, detected, used, batch)


def cauchy_cost(err: np.ndarray,  # [..., V] px
                weights: np.ndarray,  # [..., V] (bool or confidence; 0 = not counted)
                scale_px: float) -> np.ndarray:  # [...]
    """Weighted Cauchy cost ``sum_v w_v log(1 + (e_v/s)^2)`` of reprojection errors over
    the last axis (errors capped at 1e4 px, NaN counted as the cap)."""
    e = np.minimum(np.nan_to_num(err, nan=1e4), 1e4)
    return (weights * np.log1p((e / scale_px) ** 2)).sum(-1)


def triangulate_consensus(
    rig: Rig,
    keypoints_uv_conf: np.ndarray,  # [..., V, 3]
    threshold_px: float = DEFAULT_THRESHOLD_PX,
    min_views: int = 2,
    min_confidence: float = 0.0,
    undistorted: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """RANSAC over view pairs, exhaustive and batched, then a weighted DLT on the inliers.

    Every pair of detected views proposes a point; its inliers are the detected views that
    reproject within ``threshold_px``. The proposal with the most inliers wins (ties: larger
    summed confidence, then smaller mean inlier error). Unlike the greedy exclusion of
    :func:`triangulate_robust` this survives two bad views out of four when the good ones
    agree. Points whose best proposal has fewer than ``min_views`` inliers fall back to
    :func:`triangulate_robust`. Same arguments and returns as :func:`triangulate_robust`.
    """
    P, batch, und, conf, detected = _flat_views(rig, keypoints_uv_conf, min_views,
                                                min_confidence, undistorted)
    V = len(rig)
    uv = und[..., :2]
    pa, pb = np.triu_indices(V, 1)
    n_pairs = len(pa)
    sel = np.zeros((n_pairs, V), dtype=bool)
    sel[np.arange(n_pairs), pa] = True
    sel[np.arange(n_pairs), pb] = True
    uv_rep = np.broadcast_to(uv[:, None], (len(uv), n_pairs, V, 2))
    w = np.where(sel[None] & detected[:, None], conf[:, None], 0.0)  # [N, pairs, V]
    Xp = triangulate_dlt(P, uv_rep, w)
    err = reprojection_errors(P, Xp, uv_rep)  # [N, pairs, V]
    inl = detected[:, None] & (np.nan_to_num(err, nan=np.inf) < threshold_px)
    count = inl.sum(-1)
    conf_sum = np.where(inl, conf[:, None], 0.0).sum(-1)
    mean_err = np.where(inl, err, 0.0).sum(-1) / np.maximum(count, 1)
    score = count * 1e6 + conf_sum * 1e3 - np.minimum(mean_err / threshold_px, 1.0)
    score = np.where(np.isfinite(Xp).all(-1) & (w > 0).sum(-1).astype(bool), score, -np.inf)
    best = np.argmax(score, axis=-1)
    rows = np.arange(len(uv))
    used = inl[rows, best] & (count[rows, best] >= min_views)[:, None]
    X = triangulate_dlt(P, uv, np.where(used, conf, 0.0))
    X[used.sum(-1) < min_views] = np.nan
    fallback = ~np.isfinite(X).all(-1) & (detected.sum(-1) >= min_views)
    if fallback.any():
        Xf, uf, _ = triangulate_robust(rig, und[fallback], threshold_px, min_views,
                                       min_confidence, undistorted=True)
        X[fallback], used[fallback] = Xf, uf
    return _unflatten(P, X, uv, detected, used, batch)


def _flat_views(
    rig: Rig,
    keypoints_uv_conf: np.ndarray,  # [..., V, 3]
    min_views: int,
    min_confidence: float,
    undistorted: bool,
) -> tuple[np.ndarray, tuple[int, ...], np.ndarray, np.ndarray, np.ndarray]:
    """Shared input handling of the robust triangulators.

    Returns P [V, 3, 4], the batch shape, undistorted keypoints [N, V, 3] (flat batch),
    confidences [N, V] (0 where not finite) and the detected mask [N, V].
    """
    if min_views < 2:
        raise ValueError(f"min_views must be >= 2, got {min_views}")
    kp = np.asarray(keypoints_uv_conf, dtype=float)
    und = kp if undistorted else undistort_keypoints(rig, kp)
    batch = und.shape[:-2]
    und = und.reshape(-1, len(rig), 3)
    conf = np.where(np.isfinite(und[..., 2]), und[..., 2], 0.0)
    detected = (conf > min_confidence) & np.isfinite(und[..., :2]).all(-1)
    return rig.projection_matrices, batch, und, conf, detected


def _unflatten(
    P: np.ndarray,  # [V, 3, 4]
    X: np.ndarray,  # [N, 3]
    uv: np.ndarray,  # [N, V, 2]
    detected: np.ndarray,  # [N, V]
    used: np.ndarray,  # [N, V]
    batch: tuple[int, ...],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Final errors in every detected view and the robust triangulators' return shapes."""
    V = P.shape[0]
    errors = reprojection_errors(P, X, np.where(detected[..., None], uv, np.nan))
    used = used & np.isfinite(X).all(-1)[..., None]
    return X.reshape((*batch, 3)), used.reshape((*batch, V)), errors.reshape((*batch, V))


def reject_temporal_outliers(
    X: np.ndarray,  # [F, ..., 3]
    valid: np.ndarray,  # [F, ...]
    half_window: int = 3,
    threshold: float = 0.15,
    block_frames: int = 256,
) -> np.ndarray:  # [F, ...] bool
    """Valid entries that jump away from their neighbours in time.

    The reference for frame f is the mean of the per-coordinate medians of the valid
    entries in the ``half_window`` frames before and after it (a robust linear
    interpolation, so steady motion is not penalised); an entry farther than ``threshold``
    (world units) from it is an outlier. Entries without two valid neighbours on each side
    (take edges, next to gaps) are never flagged. Frames are processed ``block_frames`` at a
    time (with ``half_window`` frames of context on each side: memory stays flat with take
    length, the result does not depend on it). Returns the outlier mask [F, ...].
    """
    X = np.asarray(X, dtype=float)
    valid = np.asarray(valid, dtype=bool) & np.isfinite(X).all(-1)
    if block_frames < 1:
        raise ValueError(f"block_frames must be >= 1, got {block_frames}")
    F = X.shape[0]
    h = half_window
    out = np.zeros(valid.shape, dtype=bool)
    for s in range(0, F, block_frames):
        e = min(F, s + block_frames)
        a, b = max(0, s - h), min(F, e + h)
        out[s:e] = _temporal_outliers(X[a:b], valid[a:b], h, threshold)[s - a:e - a]
    return out


def _temporal_outliers(
    X: np.ndarray,  # [F, ..., 3]
    valid: np.ndarray,  # [F, ...]  (False where X is not finite)
    h: int,
    threshold: float,
) -> np.ndarray:  # [F, ...] bool
    """:func:`reject_temporal_outliers` of one run of frames (NaN beyond its ends)."""
    F = X.shape[0]
    Xn = np.where(valid[..., None], X, np.nan)
    pad = np.full((h, *X.shape[1:]), np.nan)
    Xp = np.concatenate([pad, Xn, pad], 0)

    def side(offsets: range) -> np.ndarray:
        neigh = np.stack([Xp[h + k: h + k + F] for k in offsets], 0)
        enough = np.isfinite(neigh).all(-1).sum(0) >= min(2, h)  # a median that can vote
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN neighbourhoods
            return np.where(enough[..., None], np.nanmedian(neigh, axis=0), np.nan)

    ref = 0.5 * (side(range(-h, 0)) + side(range(1, h + 1)))
    dist = np.linalg.norm(X - ref, axis=-1)
    return valid & np.isfinite(dist) & (np.nan_to_num(dist, nan=0.0) > threshold)


def bridge_gaps(
    X: np.ndarray,  # [F, ..., 3]
    valid: np.ndarray,  # [F, ...]
    max_gap: int = 5,
) -> tuple[np.ndarray, np.ndarray]:
    """Fill short runs of invalid frames by linear interpolation between valid neighbours.

    A run of at most ``max_gap`` invalid frames with a valid frame on both sides is
    interpolated; runs at the start/end of the take or longer runs stay NaN / invalid.

    Args:
        X: [F, ..., 3] points over frames (axis 0 = frames).
        valid: [F, ...] bool.
    Returns:
        (X_filled [F, ..., 3], bridged [F, ...] bool: entries that were filled).
    """
    X = np.array(X, dtype=float)
    valid = np.asarray(valid, dtype=bool) & np.isfinite(X).all(-1)
    if valid.shape != X.shape[:-1]:
        raise ValueError(f"valid {valid.shape} does not match X {X.shape}")
    F = X.shape[0]
    Xf = X.reshape(F, -1, 3)
    vf = valid.reshape(F, -1)
    bridged = np.zeros_like(vf)
    Xf[~vf] = np.nan
    frames = np.arange(F)
    for k in np.nonzero((~vf).any(0) & vf.any(0))[0]:
        good = vf[:, k]
        gi = frames[good]
        # gap length for each invalid frame between two valid ones
        nxt = np.searchsorted(gi, frames)  # index of next valid frame
        inside = (~good) & (nxt > 0) & (nxt < len(gi))
        if not inside.any():
            continue
        prev_f = gi[np.clip(nxt - 1, 0, len(gi) - 1)]
        next_f = gi[np.clip(nxt, 0, len(gi) - 1)]
        fill = inside & (next_f - prev_f - 1 <= max_gap)
        if not fill.any():
            continue
        for d in range(3):
            Xf[fill, k, d] = np.interp(frames[fill], gi, Xf[good, k, d])
        bridged[fill, k] = True
    return Xf.reshape(X.shape), bridged.reshape(valid.shape)
