"""Accuracy metrics for 3D pose (all lengths in metres in, millimetres out).

Shapes: ``pred`` and ``gt`` are [F, J, 3]; NaN marks a missing prediction / ground truth.
Errors are averaged over entries where both are finite unless stated otherwise.
"""

from __future__ import annotations

import numpy as np

from ..camera import Rig
from ..metrics import bone_length_std as _per_bone_std
from ..metrics import bone_lengths, nanmean, nanmedian, reprojection_errors


def _both(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    return np.isfinite(pred).all(-1) & np.isfinite(gt).all(-1)


def joint_errors(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """[F, J] Euclidean error in mm (NaN where either is missing)."""
    e = np.linalg.norm(np.asarray(pred, float) - np.asarray(gt, float), axis=-1) * 1000.0
    return np.where(_both(pred, gt), e, np.nan)


def mpjpe(pred: np.ndarray, gt: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Mean per-joint position error (mm) over entries present in both (and in ``mask``)."""
    e = joint_errors(pred, gt)
    if mask is not None:
        e = np.where(mask, e, np.nan)
    return float(nanmean(e))


def median_error(pred: np.ndarray, gt: np.ndarray) -> float:
    """Median per-joint position error (mm) over entries present in both (robust to the
    few gross failures that dominate a mean)."""
    e = joint_errors(pred, gt)
    return float(nanmedian(e))


def procrustes_align(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Similarity transform (rotation, translation, scale) of ``pred`` [J, 3] onto ``gt``
    [J, 3] (least squares over joints finite in both); returns aligned [J, 3]."""
    ok = _both(pred, gt)
    out = np.full_like(pred, np.nan, dtype=float)
    if ok.sum() < 3:
        return out
    a, b = pred[ok], gt[ok]
    ma, mb = a.mean(0), b.mean(0)
    A, B = a - ma, b - mb
    U, S, Vt = np.linalg.svd(A.T @ B)
    d = np.sign(np.linalg.det(U @ Vt))
    D = np.diag([1.0, 1.0, d])
    R = (U @ D @ Vt).T
    s = np.trace(np.diag(S) @ D) / max(np.sum(A * A), 1e-15)
    out[ok] = s * (A @ R.T) + mb
    return out


def pa_mpjpe(pred: np.ndarray, gt: np.ndarray) -> float:
    """MPJPE (mm) after a per-frame Procrustes (similarity) alignment."""
    aligned = np.stack([procrustes_align(p, g) for p, g in zip(pred, gt)])
    return mpjpe(aligned, gt)


def pck(pred: np.ndarray, gt: np.ndarray, threshold_mm: float) -> float:
    """Fraction of ground-truth joints predicted within ``threshold_mm`` (missing = wrong)."""
    has_gt = np.isfinite(gt).all(-1)
    e = joint_errors(pred, gt)
    return float(np.mean(np.nan_to_num(e[has_gt], nan=np.inf) <= threshold_mm))


def acceleration_error(pred: np.ndarray, gt: np.ndarray, fps: float) -> float:
    """Mean |a_pred - a_gt| in m/s^2 (second differences over 3 consecutive frames)."""
    ap = (pred[2:] - 2 * pred[1:-1] + pred[:-2]) * fps * fps
    ag = (gt[2:] - 2 * gt[1:-1] + gt[:-2]) * fps * fps
    e = np.linalg.norm(ap - ag, axis=-1)
    return float(nanmean(e))


def bone_length_std(pred: np.ndarray, bones: np.ndarray) -> float:
    """Mean over bones [B, 2] of the standard deviation of the bone's length (mm) in time."""
    return float(nanmean(_per_bone_std(bone_lengths(pred, bones) * 1000.0)))


def coverage(pred: np.ndarray, gt: np.ndarray) -> float:
    """Fraction of ground-truth joints with a (finite) prediction."""
    has_gt = np.isfinite(gt).all(-1)
    return float(np.isfinite(pred).all(-1)[has_gt].mean()) if has_gt.any() else float("nan")


def reprojection_error_px(pred: np.ndarray, rig: Rig, keypoints: np.ndarray) -> float:
    """Median distance (px, distorted image) between the projection of ``pred`` [F, J, 3]
    and the detections ``keypoints`` [F, V, J, 3] that have confidence > 0."""
    e = reprojection_errors(rig, pred, keypoints)  # [F, V, J]
    e = e[np.isfinite(e)]
    return float(np.median(e)) if e.size else float("nan")


def pcp(pred: np.ndarray, gt: np.ndarray, limbs: dict[str, tuple[int, int]]) -> dict[str, float]:
    """Percentage of correct parts: a limb (a, b) is correct in a frame when
    ``(|pred_a - gt_a| + |pred_b - gt_b|) / 2 <= 0.5 |gt_a - gt_b|``; missing predictions
    are wrong. Frames where the ground-truth limb is missing are skipped.

    Returns limb name -> fraction in [0, 1] (plus ``"average"`` over limbs).
    """
    out: dict[str, float] = {}
    for name, (a, b) in limbs.items():
        ga, gb, pa, pb = gt[:, a], gt[:, b], pred[:, a], pred[:, b]
        ok = np.isfinite(ga).all(-1) & np.isfinite(gb).all(-1)
        if not ok.any():
            out[name] = float("nan")
            continue
        da = np.linalg.norm(pa - ga, axis=-1)
        db = np.linalg.norm(pb - gb, axis=-1)
        length = np.linalg.norm(ga - gb, axis=-1)
        correct = np.nan_to_num((da + db) / 2, nan=np.inf) <= 0.5 * length
        out[name] = float(correct[ok].mean())
    vals = [v for v in out.values() if np.isfinite(v)]
    out["average"] = float(np.mean(vals)) if vals else float("nan")
    return out
