"""Each camera's constant detector bias per joint, estimated from the take and removed.

Real detector errors carry a constant part per camera and joint (46 % of the squared
error on Shelf: a keypoint model places one joint a few pixels off in one view for the
whole take). Such a view pulls every point of that joint the same way, and more so in the
frames where fewer views see it. The part of the bias that the other views contradict shows
as the median reprojection residual of the robust triangulation over the frames where the
joint has at least three inlier views. It is shrunk towards zero by how well the take pins
it down (empirical Bayes: nothing is removed from a take whose views show no bias beyond
their noise) and subtracted from every detection of that camera and joint. A bias shared by
all views (a 3D offset of the joint) cannot be seen this way and is left alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..triangulation import project_points

#: a bias is estimated from at least this many frames
MIN_FRAMES = 10
#: inlier views a point needs for its residuals to count (two views fit each other)
MIN_INLIER_VIEWS = 3


@dataclass
class ViewBias:
    """Per camera and joint detector bias: ``px`` [J, V, 2] undistorted pixels (0 where not
    estimated) and ``frames`` [J, V] the frames it was estimated from."""

    px: np.ndarray
    frames: np.ndarray

    def summary(self) -> dict:
        """Largest and median size (px) of the estimated biases, and how many there are."""
        size = np.linalg.norm(self.px, axis=-1)[self.frames >= MIN_FRAMES]
        return {"estimated": int(size.size),
                "median_px": float(np.median(size)) if size.size else 0.0,
                "max_px": float(size.max()) if size.size else 0.0}


def estimate_view_bias(P: np.ndarray,  # [V, 3, 4]
                       und: np.ndarray,  # [F, J, V, 3]
                       X: np.ndarray,  # [F, J, 3]
                       used: np.ndarray,  # [F, J, V]
                       threshold_px: float) -> ViewBias:
    """The bias of each camera and joint from triangulated points ``X`` (NaN where none)
    and the undistorted detections ``und`` (u, v, confidence) they were triangulated from.

    Residuals count from views in ``used`` whose residual is within ``threshold_px``, at
    points with at least :data:`MIN_INLIER_VIEWS` such views.
    """
    uv, _ = project_points(P, X)  # [F, J, V, 2]
    resid = und[..., :2] - uv
    size = np.linalg.norm(resid, axis=-1)
    with np.errstate(invalid="ignore"):
        inlier = used & (und[..., 2] > 0) & (size <= threshold_px)  # NaN compares False
    inlier &= (inlier.sum(-1) >= MIN_INLIER_VIEWS)[..., None]
    frames = inlier.sum(0)  # [J, V]
    px = np.zeros((*frames.shape, 2))
    some = frames >= MIN_FRAMES
    if some.any():
        r = np.where(inlier[..., None], resid, np.nan)[:, some]  # [F, S, 2]
        median = np.nanmedian(r, axis=0)  # [S, 2]
        px[some] = median * _shrinkage(r, median)[:, None]
    return ViewBias(px, frames)


def _shrinkage(r: np.ndarray,  # [F, S, 2] residuals of S series, NaN where not inliers
               b: np.ndarray,  # [S, 2] their medians
               ) -> np.ndarray:  # [S] factor in [0, 1]
    """Empirical-Bayes shrinkage of each median towards 0: tau^2 / (tau^2 + se^2), with se^2
    the median's sampling variance (robust spread, frames made fewer by the residuals'
    pooled lag-1 autocorrelation) and tau^2 the spread of the true biases across series
    (mean squared median minus mean se^2; 0 when the take's views show no bias)."""
    d = r - b  # [F, S, 2]
    n = np.isfinite(d[..., 0]).sum(0)  # [S]
    both = np.isfinite(d[1:, :, 0]) & np.isfinite(d[:-1, :, 0])
    lag = np.where(both[..., None], d[1:] * d[:-1], 0.0).sum()
    var = np.where(both[..., None], d[1:] ** 2, 0.0).sum()
    rho = float(np.clip(lag / var, 0.0, 0.95)) if var > 0 else 0.0
    spread = (1.4826 * np.nanmedian(np.abs(d), axis=0)) ** 2  # [S, 2] per coordinate
    se2 = (np.pi / 2) * spread.sum(-1) / (n * (1 - rho) / (1 + rho))  # [S]
    tau2 = max(float(np.mean((b ** 2).sum(-1) - se2)), 0.0)
    return tau2 / (tau2 + se2)


def remove_view_bias(und: np.ndarray,  # [F, J, V, 3]
                     bias: ViewBias,
                     out: np.ndarray | None = None) -> np.ndarray:  # [F, J, V, 3]
    """The detections with each camera and joint's bias subtracted: in ``out`` (``und``
    itself for in place), else in a new array."""
    out = und.copy() if out is None else out
    out[..., :2] = und[..., :2] - bias.px
    return out
