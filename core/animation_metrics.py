"""Numbers an animator judges mocap by, from arrays only (mm, frames; no plotting).

Definitions (the run summary, report.html and ``skelsplat bench animation`` share them):
- foot skate: mean horizontal distance a planted foot point moves between two consecutive
  frames in which it is planted (mm/frame).
- ground penetration: per frame, the depth below the floor (Z = 0 along ``up``) of the
  lowest foot point (heel, toe; the ankle where a set has neither), 0 when above; mean over
  frames and maximum (mm).
- bone-length std: per bone, the standard deviation over frames of the distance between its
  head and its parent's head; mean over bones (mm). 0 for a rigid armature.
- joint residual: distance between an animated joint and the fitted joint (mm) over frames
  where the fit is valid; per joint mean and 95th percentile, and over all joints. The rig
  residual is the same before foot locking and the floor constraint (what rigidity alone
  costs).
- jitter: mean magnitude of the second difference of joint positions (mm/frame^2).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .metrics import bone_lengths


@dataclass
class AnimationMetrics:
    """Headline numbers of one animation (see the module docstring)."""

    foot_skate_mm: float
    penetration_mean_mm: float
    penetration_max_mm: float
    bone_std_mm: float
    residual_mean_mm: float
    residual_p95_mm: float
    residual_per_joint_mm: dict[str, tuple[float, float]] = field(default_factory=dict)
    jitter_mm: float = float("nan")
    fit_jitter_mm: float = float("nan")
    contact_pct: dict[str, float] = field(default_factory=dict)
    rig_residual_mean_mm: float = float("nan")


def foot_skate_mm(points: np.ndarray, planted: np.ndarray, up: np.ndarray) -> float:
    """Mean horizontal step (mm/frame) of points [F, K, 3] between consecutive frames where
    the point is planted ([F, K] bool); NaN without two consecutive planted frames."""
    both = planted[1:] & planted[:-1]
    if not both.any():
        return float("nan")
    d = points[1:] - points[:-1]
    d = d - (d @ up)[..., None] * up
    return float(np.linalg.norm(d, axis=-1)[both].mean() * 1000.0)


def penetration_mm(points: np.ndarray, up: np.ndarray, offset: float = 0.0
                   ) -> tuple[float, float]:
    """(mean, max) over frames of the lowest point's depth below the floor, points [F, K, 3]."""
    if points.size == 0:
        return float("nan"), float("nan")
    depth = np.maximum(0.0, -(np.min(points @ up, axis=1) - offset)) * 1000.0
    return float(depth.mean()), float(depth.max())


def bone_length_std_mm(heads: np.ndarray, parents: np.ndarray) -> float:
    """Mean over bones of the std (mm) of head-to-parent-head distances, heads [F, B, 3]."""
    kids = np.flatnonzero(parents >= 0)
    if len(kids) == 0:
        return float("nan")
    d = bone_lengths(heads, np.stack([kids, parents[kids]], axis=1))  # [F, B']
    return float(d.std(axis=0).mean() * 1000.0)


def residual_mm(animated: np.ndarray, fitted: np.ndarray, valid: np.ndarray,
                names: list[str]) -> tuple[float, float, dict[str, tuple[float, float]]]:
    """Overall mean and p95 and per-joint (mean, p95) distance (mm) over valid entries."""
    e = np.linalg.norm(animated - fitted, axis=-1) * 1000.0
    per = {}
    for j, n in enumerate(names):
        ej = e[valid[:, j], j]
        per[n] = (float(ej.mean()), float(np.percentile(ej, 95))) if ej.size else \
            (float("nan"), float("nan"))
    all_e = e[valid]
    if not all_e.size:
        return float("nan"), float("nan"), per
    return float(all_e.mean()), float(np.percentile(all_e, 95)), per


def jitter_mm(joints: np.ndarray) -> float:
    """Mean |x[t+1] - 2 x[t] + x[t-1]| (mm/frame^2) over joints and interior frames."""
    if joints.shape[0] < 3:
        return float("nan")
    acc = joints[2:] - 2 * joints[1:-1] + joints[:-2]
    n = np.linalg.norm(acc, axis=-1)
    return float(np.nanmean(n) * 1000.0)
