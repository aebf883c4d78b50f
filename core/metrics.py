"""Numbers measured on a fit, from arrays only: one definition for the fitter, the run
report, the benchmarks and the Blender bake.

- reprojection error: pixel distance between a 2D detection (confidence > 0) and the
  projection, with lens distortion, of the fitted 3D joint of the same joint into the same
  camera; NaN where there is no detection, the joint is invalid or behind the camera.
- bone length: distance between a bone's two joints (metres), NaN where either is unknown.
- typical length: a bone's robust median length over the frames chosen for it, with a
  robust spread (1.4826 x the median absolute deviation).
- NaN-aware means: NaN entries are skipped; an all-NaN slice gives NaN without a warning.
"""

from __future__ import annotations

import warnings

import numpy as np

from .camera import Rig

#: 1.4826 x the median absolute deviation is the standard deviation of Gaussian data.
MAD_TO_STD = 1.4826


def nanmean(values: np.ndarray, axis: int | tuple[int, ...] | None = None) -> np.ndarray:
    """Mean over the finite entries of ``values``; NaN (no warning) where there are none.

    Returns a 0-d array for ``axis=None`` (``float(...)`` it for a number)."""
    values = np.asarray(values, dtype=float)
    finite = np.isfinite(values)
    total = np.where(finite, values, 0.0).sum(axis=axis)
    count = finite.sum(axis=axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def nanmax(values: np.ndarray, axis: int | tuple[int, ...] | None = None) -> np.ndarray:
    """Largest finite entry of ``values``; NaN (no warning) where there is none."""
    values = np.asarray(values, dtype=float)
    finite = np.isfinite(values)
    peak = np.where(finite, values, -np.inf).max(axis=axis)
    return np.where(finite.any(axis=axis), peak, np.nan)


def nanmedian(values: np.ndarray, axis: int | tuple[int, ...] | None = None) -> np.ndarray:
    """Median over the finite entries of ``values``; NaN (no warning) where there are none."""
    values = np.asarray(values, dtype=float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slices
        return np.nanmedian(np.where(np.isfinite(values), values, np.nan), axis=axis)


def reprojection_errors(
    rig: Rig,
    joints3d: np.ndarray,  # [F, J, 3] metres, NaN where invalid
    keypoints: np.ndarray,  # [F, V, J, 3] u, v (distorted px), confidence
) -> np.ndarray:  # [F, V, J] px
    """Per-detection reprojection error [F, V, J] in pixels, NaN where undefined (no
    detection, invalid 3D joint, joint behind the camera)."""
    joints3d = np.asarray(joints3d, dtype=float)
    keypoints = np.asarray(keypoints, dtype=float)
    F, J, _ = joints3d.shape
    if keypoints.shape[0] != F or keypoints.shape[2] != J or keypoints.shape[1] != len(rig):
        raise ValueError(f"keypoints {keypoints.shape} do not match joints {joints3d.shape} "
                         f"and {len(rig)} cameras")
    projected = np.moveaxis(rig.project(joints3d), -2, 1)  # [F, V, J, 2] distorted px
    err = np.linalg.norm(projected - keypoints[..., :2], axis=-1)
    return np.where((keypoints[..., 2] > 0) & np.isfinite(err), err, np.nan)


def mean_reprojection_error(errors: np.ndarray) -> float:  # errors [F, V, J] px, NaN = none
    """Mean reprojection error (px) over every defined detection; NaN when there is none."""
    return float(nanmean(errors))


def joint_error_stats(
    errors: np.ndarray,  # [F, V, J] px, NaN = undefined
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per joint: mean [J] and largest [J] reprojection error over frames and views, and the
    mean over views per frame [F, J] (px; NaN where a joint has no defined error)."""
    errors = np.asarray(errors, dtype=float)
    return nanmean(errors, axis=(0, 1)), nanmax(errors, axis=(0, 1)), nanmean(errors, axis=1)


def bone_lengths(
    joints: np.ndarray,  # [F, J, 3] metres, NaN where unknown
    bones: np.ndarray,  # [B, 2] int joint indices
) -> np.ndarray:  # [F, B] metres
    """Distance between the two joints of every bone (or any joint pair) in every frame,
    NaN where either end is unknown."""
    joints = np.asarray(joints, dtype=float)
    bones = np.asarray(bones, dtype=int).reshape(-1, 2)
    return np.linalg.norm(joints[:, bones[:, 0]] - joints[:, bones[:, 1]], axis=-1)


def bone_length_std(lengths: np.ndarray) -> np.ndarray:  # lengths [F, B], NaN = unknown
    """Per-bone standard deviation [B] over frames (units of ``lengths``); NaN for bones
    seen in fewer than 2 frames."""
    lengths = np.asarray(lengths, dtype=float)
    seen = np.isfinite(lengths).sum(axis=0)
    out = np.full(lengths.shape[1], np.nan)
    for b in np.flatnonzero(seen >= 2):
        out[b] = float(np.nanstd(lengths[:, b]))
    return out


def robust_lengths(
    lengths: np.ndarray,  # [F, B], NaN = unknown
    use: np.ndarray,  # [F, B] bool: samples to use per bone
    min_samples: int,
) -> tuple[np.ndarray, np.ndarray]:  # [B] median, [B] robust spread (units of ``lengths``)
    """Median and robust spread (:data:`MAD_TO_STD` x the median absolute deviation) of each
    bone's length over its ``use`` frames; NaN for bones with fewer than ``min_samples``."""
    use = np.asarray(use, dtype=bool)
    enough = use.sum(0) >= min_samples
    with warnings.catch_warnings():  # bones never seen: all-NaN columns
        warnings.simplefilter("ignore", RuntimeWarning)
        sample = np.where(use, lengths, np.nan)
        med = np.nanmedian(sample, axis=0)
        spread = MAD_TO_STD * np.nanmedian(np.abs(sample - med), axis=0)
    return np.where(enough, med, np.nan), np.where(enough, spread, np.nan)


def bone_length_statistics(
    joints: np.ndarray,  # [F, J, 3] metres, NaN where unknown
    bones: np.ndarray,  # [B, 2] joint indices
    trusted: np.ndarray | None = None,  # [F, J] bool: endpoints trusted for the estimate
    min_samples: int = 3,
) -> tuple[np.ndarray, np.ndarray]:  # [B] median (m), [B] robust spread (m)
    """Typical length of every bone: the median over the frames where both endpoints are
    trusted (all finite endpoints when ``trusted`` leaves fewer than ``min_samples``), and
    the robust spread over the same frames (a standard deviation for Gaussian jitter,
    unmoved by a minority of gross errors). NaN where fewer than ``min_samples`` samples."""
    bones = np.asarray(bones, dtype=int).reshape(-1, 2)
    lengths = bone_lengths(joints, bones)  # [F, B]
    use = np.isfinite(lengths)
    if trusted is not None:
        t = np.asarray(trusted, dtype=bool)
        both = use & t[:, bones[:, 0]] & t[:, bones[:, 1]]
        use = np.where(both.sum(0) >= min_samples, both, use)
    return robust_lengths(lengths, use, min_samples)


def typical_bone_lengths(
    joints: np.ndarray,  # [F, J, 3] metres, NaN where unknown
    bones: np.ndarray,  # [B, 2] joint indices
    trusted: np.ndarray | None = None,  # [F, J] bool
    min_samples: int = 3,
) -> np.ndarray:  # [B] metres
    """The median of :func:`bone_length_statistics` (NaN where too few samples)."""
    return bone_length_statistics(joints, bones, trusted, min_samples)[0]
