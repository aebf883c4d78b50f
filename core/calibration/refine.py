"""Refine a rig's extrinsics from the actor: confident 2D keypoints of the take itself.

Bundle adjustment over camera poses and the actor's 3D joints, solved by *variable
projection*: the unknowns are only the camera poses (6 per camera); for every trial pose
the joints are re-triangulated (confidence-weighted DLT, then iteratively re-weighted
Gauss-Newton steps that down-weight views more than ``outlier_px`` off, e.g. a left/right
swap), and the residuals are the reprojection errors of every confident detection (robust
``soft_l1`` loss). Intrinsics stay as given.

Gauge: an actor fixes cameras only up to a similarity (rotation, translation, scale). The
adjustment keeps ``anchor`` (default: the camera with the most detections) fixed, then
the result is mapped back onto the initial rig's frame: a least-squares similarity of the
camera centres (Umeyama) with the scale kept from the initial calibration, or set from a
known distance between two cameras (``known_distance=("cam01", "cam02", 3.2)``). So a rig
calibrated with a floor board keeps its floor, Z up and metres.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import least_squares

from ..camera import Camera, Rig, rodrigues_from_rotation
from ..errors import CalibrationError
from ..keypoints.multiview import Keypoints2D
from .bundle import rodrigues_batch


@dataclass
class RefineResult:
    """The refined rig and its fit to the keypoints.

    Attributes:
        rig: refined cameras (intrinsics unchanged).
        rms_before_px, rms_after_px: {camera: robust RMS (px) of its confident detections,
            outliers beyond ``outlier_px`` excluded} before and after.
        n_observations: {camera: detections used}.
        frames: take frames used.
        lines: human-readable summary.
    """

    rig: Rig
    rms_before_px: dict[str, float]
    rms_after_px: dict[str, float]
    n_observations: dict[str, int]
    frames: np.ndarray
    lines: list[str] = field(default_factory=list)


def _triangulate(
    R: np.ndarray,      # [V, 3, 3]
    t: np.ndarray,      # [V, 3]
    xy: np.ndarray,     # [V, P, 2] normalised undistorted
    w: np.ndarray,      # [V, P] weights, 0 = missing
    tau: np.ndarray,    # [V] outlier scale in normalised units
    iterations: int = 3,
) -> np.ndarray:        # [P, 3]
    """Weighted DLT, then re-weighted Gauss-Newton on the reprojection error."""
    Pm = np.concatenate([R, t[:, :, None]], -1)                            # [V, 3, 4]
    rows = np.concatenate([xy[..., :1] * Pm[:, None, 2] - Pm[:, None, 0],
                           xy[..., 1:] * Pm[:, None, 2] - Pm[:, None, 1]], 0)  # [2V, P, 4]
    rows = rows * np.concatenate([w, w], 0)[..., None]
    A = rows.transpose(1, 0, 2)                                              # [P, 2V, 4]
    _, _, vt = np.linalg.svd(A)
    Xh = vt[:, -1]
    X = Xh[:, :3] / np.where(np.abs(Xh[:, 3:]) > 1e-12, Xh[:, 3:], 1e-12)
    for _ in range(iterations):
        xc = np.einsum("vij,pj->vpi", R, X) + t[:, None]                      # [V, P, 3]
        z = np.maximum(xc[..., 2], 1e-6)
        proj = xc[..., :2] / z[..., None]
        r = proj - xy                                                         # [V, P, 2]
        # d proj / d X = (R[:2] - proj R[2]) / z
        J = (R[:, None, :2, :] - proj[..., None] * R[:, None, 2:3, :]) / z[..., None, None]
        rn = np.linalg.norm(r, axis=-1)
        ww = w * np.minimum(1.0, tau[:, None] / np.maximum(rn, 1e-12))       # Huber weights
        H = np.einsum("vp,vpki,vpkj->pij", ww, J, J)
        H = H + (1e-9 * np.trace(H, axis1=1, axis2=2)[:, None, None] + 1e-12) * np.eye(3)
        g = np.einsum("vp,vpki,vpk->pi", ww, J, r)
        step = np.linalg.solve(H, g[..., None])[..., 0]
        X = X - np.nan_to_num(step, nan=0.0, posinf=0.0, neginf=0.0)
    return X


def _poses(x: np.ndarray, base: np.ndarray, free: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    p = base.copy()
    p[free] = x.reshape(-1, 6)
    return rodrigues_batch(p[:, :3]), p[:, 3:]


def _similarity(src: np.ndarray, dst: np.ndarray, with_scale: bool) -> tuple[float, np.ndarray,
                                                                               np.ndarray]:
    """(s, Q, p) minimising sum |s Q src + p - dst|^2 (Umeyama); s = 1 unless with_scale."""
    ms, md = src.mean(0), dst.mean(0)
    a, b = src - ms, dst - md
    U, S, Vt = np.linalg.svd(b.T @ a)
    d = np.sign(np.linalg.det(U @ Vt))
    Q = U @ np.diag([1, 1, d]) @ Vt
    s = float((S * [1, 1, d]).sum() / max((a * a).sum(), 1e-18)) if with_scale else 1.0
    return s, Q, md - s * Q @ ms


def _transform(cams: list[Camera], s: float, Q: np.ndarray, p: np.ndarray) -> list[Camera]:
    """Cameras after the world change X' = s Q X + p (camera frames scaled by s)."""
    out = []
    for c in cams:
        R = c.R @ Q.T
        out.append(Camera(c.name, c.K, c.dist, R, s * c.t - R @ p, c.size, c.model))
    return out


def refine_extrinsics(
    rig: Rig,
    keypoints: Keypoints2D,
    min_confidence: float = 0.6,
    max_frames: int = 30,
    anchor: str | None = None,
    known_distance: tuple[str, str, float] | None = None,
    outlier_px: float = 15.0,
    f_scale_px: float = 3.0,
) -> RefineResult:
    """Refine the extrinsics of ``rig`` from the actor (see the module docstring).

    Args:
        keypoints: detections of the take, matched to the rig's cameras by name.
        min_confidence: detections below this confidence are not used.
        max_frames: frames used (evenly spread over those with the most joints seen).
        anchor: camera kept fixed during the adjustment (default: most detections).
        known_distance: (camera a, camera b, metres) to set the scale; default keeps the
            initial rig's scale.
        outlier_px: detections further than this from their joint's reprojection count
            only as far as this (re-weighted triangulation; robust loss beyond ``f_scale_px``).

    Raises:
        CalibrationError naming the camera without enough confident detections, or the
        unknown cameras of ``anchor`` / ``known_distance``.
    """
    kp = keypoints.aligned_to(rig)
    names = rig.names
    V = len(rig)
    if V < 2:
        raise CalibrationError("refinement from the actor needs at least two cameras")
    for n in [anchor, *list(known_distance[:2] if known_distance else [])]:
        if n is not None and n not in names:
            raise CalibrationError(f"camera {n!r} is not in the calibration ({names})")
    data = kp.data                                                          # [F, V, J, 3]
    ok = data[..., 2] >= min_confidence                                     # [F, V, J]
    multi = ok.sum(1) >= 2                                                  # [F, J]
    counts = multi.sum(1)
    frames = np.nonzero(counts >= 3)[0]
    if len(frames) > max_frames:
        frames = frames[np.linspace(0, len(frames) - 1, max_frames).round().astype(int)]
    sel = ok[frames] & multi[frames][:, None]                               # [Fs, V, J]
    per_cam = sel.sum((0, 2))
    few = [f"camera {n!r}: {int(c)} confident detections" for n, c in zip(names, per_cam)
           if c < 30]
    if few:
        raise CalibrationError(f"{keypoints.source or 'keypoints'}: too few confident "
                               f"(>= {min_confidence}) keypoints seen by two cameras to refine "
                               f"the calibration ({'; '.join(few)}; at least 30 are needed)")
    Fs, _, J = sel.shape
    uv = data[frames][..., :2].transpose(1, 0, 2, 3).reshape(V, Fs * J, 2)  # [V, P, 2]
    w = np.where(sel, data[frames][..., 2], 0.0).transpose(1, 0, 2).reshape(V, Fs * J)
    xy = np.stack([c.undistort_normalized(c.pixels_to_normalized(uv[v]))
                   for v, c in enumerate(rig)])
    keep = (w > 0).sum(0) >= 2                                              # [P]
    uv, w, xy = uv[:, keep], w[:, keep], xy[:, keep]
    xy = np.where(w[..., None] > 0, xy, 0.0)
    f = np.array([(c.fx + c.fy) / 2 for c in rig])                          # [V] px
    tau = outlier_px / f

    ref = names.index(anchor) if anchor else int(np.argmax(per_cam))
    base = np.array([np.concatenate([rodrigues_from_rotation(c.R), c.t]) for c in rig])
    free = np.ones(V, bool)
    free[ref] = False
    mask = w > 0
    sw = np.sqrt(w[mask])
    centre_ref = rig[ref].center
    far = int(np.argmax(np.linalg.norm(rig.centers - centre_ref, axis=1)))
    gap0 = float(np.linalg.norm(rig[far].center - centre_ref))

    def residuals(x: np.ndarray) -> np.ndarray:
        R, t = _poses(x, base, free)
        X = _triangulate(R, t, xy, w, tau)
        xc = np.einsum("vij,pj->vpi", R, X) + t[:, None]
        proj = xc[..., :2] / np.maximum(xc[..., 2:], 1e-6)
        r = (proj - xy) * f[:, None, None]                                  # ~px
        # gauge: the anchor-to-farthest-camera distance stays (scale is set afterwards)
        gap = np.linalg.norm(-R[far].T @ t[far] - centre_ref) - gap0
        return np.concatenate([(r[mask] * sw[:, None]).ravel(), [1e4 * gap]])

    def camera_rms(x: np.ndarray) -> np.ndarray:
        R, t = _poses(x, base, free)
        X = _triangulate(R, t, xy, w, tau)
        xc = np.einsum("vij,pj->vpi", R, X) + t[:, None]
        proj = xc[..., :2] / np.maximum(xc[..., 2:], 1e-6)
        e = np.linalg.norm((proj - xy) * f[:, None, None], axis=-1)
        inl = mask & (e <= outlier_px)
        return np.sqrt(np.array([np.mean(e[v][inl[v]] ** 2) if inl[v].any() else np.nan
                                 for v in range(V)]))

    x0 = base[free].ravel()
    before = camera_rms(x0)
    sol = least_squares(residuals, x0, loss="soft_l1", f_scale=f_scale_px, method="trf",
                        x_scale="jac", max_nfev=100, xtol=1e-8, ftol=1e-8)
    after = camera_rms(sol.x)
    R, t = _poses(sol.x, base, free)
    adjusted = [Camera(c.name, c.K, c.dist, R[v], t[v], c.size, c.model)
                for v, c in enumerate(rig)]
    # Back onto the initial rig's frame (and scale).
    c0 = rig.centers
    c1 = np.array([c.center for c in adjusted])
    if known_distance:
        a, b, dist_m = known_distance
        d1 = np.linalg.norm(c1[names.index(a)] - c1[names.index(b)])
        s0 = float(dist_m) / max(d1, 1e-12)
        _, Q, p = _similarity(s0 * c1, c0, with_scale=False)
        s = s0
    else:
        s, Q, p = _similarity(c1, c0, with_scale=True)
    final = _transform(adjusted, s, Q, p)
    out = Rig(final, source=f"{rig.source} refined from the actor ({keypoints.source})")
    lines = [f"refined from {int(mask.sum())} detections in {Fs} frames "
             f"(confidence >= {min_confidence}), anchor camera {names[ref]}, "
             + (f"scale from {known_distance[0]}-{known_distance[1]} = {known_distance[2]} m"
                if known_distance else "scale kept from the initial calibration")]
    for v, n in enumerate(names):
        move = np.linalg.norm(out[n].center - rig[n].center)
        lines.append(f"{n}: RMS {before[v]:.2f} -> {after[v]:.2f} px, moved {1000 * move:.1f} mm")
    return RefineResult(out, dict(zip(names, map(float, before))),
                        dict(zip(names, map(float, after))),
                        dict(zip(names, map(int, per_cam))), kp.frame_numbers[frames], lines)


def mean_reprojection_error(rig: Rig, keypoints: Keypoints2D, min_confidence: float = 0.6
                            ) -> float:
    """Mean distance (px) between confident detections and the reprojection of the joints
    triangulated from them with ``rig`` (Pose2Sim-style robust triangulation; every
    confident detection counts, kept or not). The yardstick for comparing calibrations."""
    from ..triangulation import triangulate_robust

    kp = keypoints.aligned_to(rig)
    d = kp.data.copy()
    d[..., 2] = np.where(d[..., 2] >= min_confidence, d[..., 2], 0.0)
    _X, _, err = triangulate_robust(rig, d.transpose(0, 2, 1, 3))
    e = err[np.isfinite(err)]
    return float(e.mean()) if e.size else float("nan")
