"""Numbers the run report shows, computed from arrays only (no plotting, no files).

Definitions (used by the terminal summary and report.html alike):
- reprojection error: pixel distance between a 2D detection (confidence > 0) and the
  projection, with lens distortion, of the fitted 3D joint of the same joint set into the
  same camera; only where the 3D joint is valid.
- bone length: distance between the two fitted joints of a bone, in millimetres, on frames
  where both are valid; a bone's stability is the standard deviation of that length over
  the take.
- coverage: percentage of (frame, joint) entries with a valid 3D joint.
"""

from __future__ import annotations

import itertools

import numpy as np

from ..camera import Rig


def reprojection_errors(
    rig: Rig,
    joints3d: np.ndarray,  # [F, J, 3] metres, NaN where invalid
    keypoints: np.ndarray,  # [F, V, J, 3] u, v (distorted px), confidence
) -> np.ndarray:
    """Per-detection reprojection error [F, V, J] in pixels, NaN where undefined.

    Undefined: no detection (confidence 0), invalid 3D joint, or the joint behind the camera.
    """
    joints3d = np.asarray(joints3d, dtype=float)
    keypoints = np.asarray(keypoints, dtype=float)
    F, J, _ = joints3d.shape
    if keypoints.shape[0] != F or keypoints.shape[2] != J or keypoints.shape[1] != len(rig):
        raise ValueError(f"keypoints {keypoints.shape} do not match joints {joints3d.shape} "
                         f"and {len(rig)} cameras")
    projected = rig.project(joints3d)  # [F, J, V, 2]
    projected = np.moveaxis(projected, -2, 1)  # [F, V, J, 2]
    err = np.linalg.norm(projected - keypoints[..., :2], axis=-1)
    err[keypoints[..., 2] <= 0] = np.nan
    return err


def bone_lengths(
    joints3d: np.ndarray,  # [F, J, 3] metres, NaN where invalid
    bones: np.ndarray,  # [B, 2] int joint indices (parent, child)
) -> np.ndarray:
    """Bone lengths [F, B] in millimetres, NaN where either end is invalid."""
    joints3d = np.asarray(joints3d, dtype=float)
    bones = np.asarray(bones, dtype=int).reshape(-1, 2)
    diff = joints3d[:, bones[:, 1]] - joints3d[:, bones[:, 0]]
    return np.linalg.norm(diff, axis=-1) * 1000.0


def bone_length_std(lengths_mm: np.ndarray) -> np.ndarray:
    """Per-bone standard deviation [B] (mm) over frames; NaN for bones seen < 2 times."""
    lengths_mm = np.asarray(lengths_mm, dtype=float)
    seen = np.isfinite(lengths_mm).sum(axis=0)
    out = np.full(lengths_mm.shape[1], np.nan)
    for b in np.flatnonzero(seen >= 2):
        out[b] = float(np.nanstd(lengths_mm[:, b]))
    return out


def nanmean_or_nan(values: np.ndarray, axis: int | tuple[int, ...] | None = None) -> np.ndarray:
    """``np.nanmean`` without the all-NaN warning (gives NaN there)."""
    values = np.asarray(values, dtype=float)
    finite = np.isfinite(values)
    total = np.where(finite, values, 0.0).sum(axis=axis)
    count = finite.sum(axis=axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def pick_report_frames(valid: np.ndarray, n: int = 3) -> list[int]:
    """Row indices of ``n`` frames spread over the take, preferring well-covered frames.

    The take is cut into ``n`` equal parts and the frame with the most valid joints of each
    part is taken (first one on ties). ``valid`` is [F, J] bool.
    """
    valid = np.asarray(valid, dtype=bool)
    F = valid.shape[0]
    if F == 0 or n <= 0:
        return []
    counts = valid.sum(axis=1)
    edges = np.linspace(0, F, min(n, F) + 1).round().astype(int)
    rows = []
    for a, b in itertools.pairwise(edges):
        if b > a:
            rows.append(int(a + np.argmax(counts[a:b])))
    return rows
