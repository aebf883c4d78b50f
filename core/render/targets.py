"""Per-(frame, view, joint) heatmap targets and the windows the fast renderer evaluates."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from .gaussians import SUPPORT_SIGMAS, sigma_extent


@dataclass
class Targets:
    """Heatmap targets of one batch of frames.

    Attributes:
        det: [B, V, J, 2] detections in undistorted pixels (any finite value where missing).
        weight: [B, V, J] loss weight of each channel (the detector confidence); 0 = the
            channel contributes nothing (missing detection, unusable view).
        cov: [B, V, J, 2, 2] heatmap covariance (px^2), from the initial Gaussian's projection.
        con: [B, V, J, 3] its conic (inverse entries a, b, c).
    """

    det: Tensor
    weight: Tensor
    cov: Tensor
    con: Tensor

    def index(self, rows: Tensor) -> Targets:
        """The targets of frames ``rows`` (a [B'] index tensor)."""
        return Targets(self.det[rows], self.weight[rows], self.cov[rows], self.con[rows])


@dataclass
class Windows:
    """Square lattices of n x n pixels, one per (frame, view, joint).

    Attributes:
        origin: [B, V, J, 2] integer pixel of the lattice corner (float tensor).
        stride: [B, V, J] integer spacing in pixels (float tensor); each lattice point stands
            for stride^2 image pixels.
        n: lattice side.
    """

    origin: Tensor
    stride: Tensor
    n: int

    def points(self) -> Tensor:
        """[B, V, J, n*n, 2] pixel coordinates of the lattice points."""
        r = torch.arange(self.n, dtype=self.origin.dtype, device=self.origin.device)
        gy, gx = torch.meshgrid(r, r, indexing="ij")
        grid = torch.stack([gx.reshape(-1), gy.reshape(-1)], -1)  # [P, 2]
        return self.origin[..., None, :] + self.stride[..., None, None] * grid


def exact_windows(targets: Targets, means2d: Tensor, cov2d: Tensor, margin: float = 1.0,
                  max_n: int = 4001) -> Windows:
    """Stride-1 windows covering the whole support of the target and of the rendered Gaussian.

    With these, windowed rendering gives the full-image loss exactly (up to rounding).
    The side is sized by the channels with weight > 0 only: the renderer never evaluates
    the others, whose detections may be placeholders far from the Gaussian (a missing or
    excluded view), and sizing by them would inflate every window.
    """
    with torch.no_grad():
        _, st = sigma_extent(targets.cov)
        _, sr = sigma_extent(cov2d)
        gap = (targets.det - means2d).abs().amax(-1)
        half = SUPPORT_SIGMAS * torch.maximum(st, sr) + 0.5 * gap + margin
        half = torch.where(targets.weight > 0, half, torch.zeros_like(half))
        m = int(torch.nan_to_num(half, 0.0).max().ceil().item()) if half.numel() else 1
        n = min(2 * m + 1, max_n)
        m = (n - 1) // 2
        centre = torch.nan_to_num(torch.round(0.5 * (targets.det + means2d)), 0.0)
        return Windows(centre - m, torch.ones_like(half), n)


def lattice_windows(targets: Targets, points_per_sigma: float = 1.0, window_sigmas: float = 3.0,
                    max_n: int = 15) -> Windows:
    """Sparse windows centred on the detections (fast mode).

    The lattice spacing is 1 / ``points_per_sigma`` of the heatmap's smallest sigma, rounded
    up to whole pixels, and the window reaches ``window_sigmas`` spacings times
    ``points_per_sigma`` (so about ``window_sigmas`` sigmas) from the detection. A
    Gaussian sampled every sigma sums like its integral to ~1e-8 (Poisson summation), so
    the loss and its gradient match the full-pixel loss while touching ~49 points per joint.
    """
    with torch.no_grad():
        smin, _ = sigma_extent(targets.cov)
        stride = torch.clamp(torch.ceil(smin / points_per_sigma), min=1.0)
        m = max(1, min(math.ceil(window_sigmas * points_per_sigma), (max_n - 1) // 2))
        centre = torch.round(targets.det)
        return Windows(centre - m * stride[..., None], stride, 2 * m + 1)


def support_radius(cov2d: Tensor) -> Tensor:
    """[...] radius (px) beyond which a Gaussian's alpha is below 1/255."""
    return SUPPORT_SIGMAS * sigma_extent(cov2d)[1]
