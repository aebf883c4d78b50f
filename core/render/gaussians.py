"""3D Gaussians and their EWA projection into pinhole cameras (shared by every renderer).

Units: whatever the means and ``world_to_cam`` translations use (the fitter uses mm);
pixels follow OpenCV (integer coordinates are pixel centres).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

#: 3DGS low-pass filter added to every 2D covariance (px^2).
EPS2D = 0.3
#: 3DGS skips alphas below this value.
ALPHA_MIN = 1.0 / 255.0
#: INRIA 3DGS clamps alpha to this (gsplat uses 0.999).
ALPHA_MAX = 0.99
#: Support radius in sigmas where exp(-q/2) >= ALPHA_MIN.
SUPPORT_SIGMAS = math.sqrt(2.0 * math.log(255.0))


def quat_to_rotmat(quats: Tensor) -> Tensor:
    """[..., 4] (w, x, y, z) quaternions (any norm) -> [..., 3, 3] rotations."""
    q = quats / quats.norm(dim=-1, keepdim=True)
    w, x, y, z = q.unbind(-1)
    return torch.stack([
        1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
        2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
        2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y),
    ], -1).reshape(*q.shape[:-1], 3, 3)


def covariance_3d(log_scales: Tensor, quats: Tensor) -> Tensor:
    """[..., 3] log standard deviations and [..., 4] quaternions -> [..., 3, 3] R S^2 R^T."""
    R = quat_to_rotmat(quats)
    M = R * torch.exp(log_scales)[..., None, :]
    return M @ M.transpose(-1, -2)


def project_gaussians(
    means: Tensor,  # [B, J, 3]
    covs: Tensor,  # [B, J, 3, 3]
    K: Tensor,  # [V, 3, 3]
    world_to_cam: Tensor,  # [V, 4, 4]
    eps2d: float = EPS2D,
) -> tuple[Tensor, Tensor, Tensor]:
    """EWA splatting projection (first-order, as 3DGS).

    Returns:
        means2d [B, V, J, 2] px, cov2d [B, V, J, 2, 2] px^2 (``J W Sigma W^T J^T + eps2d I``),
        depth [B, V, J] camera z (same units as the means).
    """
    R = world_to_cam[:, :3, :3]
    t = world_to_cam[:, :3, 3]
    pc = torch.einsum("vik,bjk->bvji", R, means) + t[None, :, None, :]  # [B, V, J, 3]
    x, y, z = pc.unbind(-1)
    fx = K[:, 0, 0][None, :, None]
    fy = K[:, 1, 1][None, :, None]
    cx = K[:, 0, 2][None, :, None]
    cy = K[:, 1, 2][None, :, None]
    zs = torch.where(z.abs() > 1e-9, z, torch.full_like(z, 1e-9))
    means2d = torch.stack([fx * x / zs + cx, fy * y / zs + cy], -1)
    zero = torch.zeros_like(z)
    Jac = torch.stack([fx / zs, zero, -fx * x / zs**2,
                       zero, fy / zs, -fy * y / zs**2], -1).reshape(*z.shape, 2, 3)
    T = Jac @ R[None, :, None]  # [B, V, J, 2, 3]
    cov2d = T @ covs[:, None] @ T.transpose(-1, -2)
    cov2d = cov2d + eps2d * torch.eye(2, dtype=means.dtype, device=means.device)
    return means2d, cov2d, z


def conic(cov2d: Tensor) -> Tensor:
    """[..., 2, 2] covariance -> [..., 3] conic (a, b, c): q = a dx^2 + 2b dx dy + c dy^2."""
    a, b, c = cov2d[..., 0, 0], cov2d[..., 0, 1], cov2d[..., 1, 1]
    det = (a * c - b * b).clamp_min(1e-12)
    return torch.stack([c / det, -b / det, a / det], -1)


def sigma_extent(cov2d: Tensor) -> tuple[Tensor, Tensor]:
    """Smallest and largest standard deviation (px) of [..., 2, 2] covariances."""
    a, b, c = cov2d[..., 0, 0], cov2d[..., 0, 1], cov2d[..., 1, 1]
    mid = 0.5 * (a + c)
    disc = torch.sqrt(((a - c) * 0.5) ** 2 + b * b)
    return (mid - disc).clamp_min(1e-12).sqrt(), (mid + disc).sqrt()


def gaussian_alpha(d: Tensor, con: Tensor, alpha_max: float = ALPHA_MAX,
                   alpha_min: float = ALPHA_MIN) -> Tensor:
    """Opacity-1 alpha at offsets d [..., 2] for conics con [..., 3] (broadcast).

    ``min(alpha_max, exp(-q/2))``, set to 0 below ``alpha_min`` (3DGS's skip rule).
    """
    q = con[..., 0] * d[..., 0] ** 2 + 2 * con[..., 1] * d[..., 0] * d[..., 1] \
        + con[..., 2] * d[..., 1] ** 2
    a = torch.exp(-0.5 * q).clamp(max=alpha_max)
    return torch.where(a >= alpha_min, a, torch.zeros_like(a))


def heatmap_value(d: Tensor, con: Tensor, floor: float = ALPHA_MIN) -> Tensor:
    """Target heatmap (peak 1) at offsets d [..., 2]; values below ``floor`` are 0."""
    q = con[..., 0] * d[..., 0] ** 2 + 2 * con[..., 1] * d[..., 0] * d[..., 1] \
        + con[..., 2] * d[..., 1] ** 2
    g = torch.exp(-0.5 * q)
    return torch.where(g >= floor, g, torch.zeros_like(g))
