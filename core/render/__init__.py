"""Differentiable renderers of one-hot joint Gaussians behind one interface.

:func:`view_losses` takes 3D Gaussians and cameras and returns the per-(frame, view)
heatmap loss with one of the backends:

- ``"window"``: our PyTorch EWA splatting evaluated on sparse windows (fast, CPU or GPU);
- ``"exact"``: the same renderer with stride-1 windows covering every support
  (equals the full-image loss, much cheaper than rendering whole images);
- ``"full"``: :mod:`.reference`, every pixel of every view (the authors' setting; slow);
- ``"gsplat"``: ``gsplat.rasterization`` at full resolution on CUDA (:mod:`.gsplat_backend`).
"""

from __future__ import annotations

import torch
from torch import Tensor

from .gaussians import (
    ALPHA_MAX,
    ALPHA_MIN,
    EPS2D,
    covariance_3d,
    project_gaussians,
    quat_to_rotmat,
)
from .targets import Targets, Windows, exact_windows, lattice_windows

BACKENDS = ("window", "exact", "full", "gsplat")

__all__ = ["ALPHA_MAX", "ALPHA_MIN", "BACKENDS", "EPS2D", "Targets", "Windows", "covariance_3d",
           "exact_windows", "lattice_windows", "project_gaussians", "quat_to_rotmat",
           "view_losses"]


def view_losses(
    backend: str,
    means: Tensor,  # [B, J, 3]
    covs: Tensor,  # [B, J, 3, 3]
    K: Tensor,  # [V, 3, 3]
    world_to_cam: Tensor,  # [V, 4, 4]
    sizes: Tensor,  # [V, 2]
    targets: Targets,
    windows: Windows | None = None,
    near: float = 1e-2,
    alpha_max: float = ALPHA_MAX,
    present: Tensor | None = None,  # [B, J] bool
    occlusion_targets: bool = False,
) -> Tensor:  # [B, V]
    """Heatmap loss of every frame and view (see :func:`.windowed.window_view_losses`).

    ``windows`` is used by the ``"window"`` backend (default: :func:`lattice_windows`).
    Gaussians with ``present`` False are not rendered at all (they occlude nothing).
    """
    if backend == "gsplat":
        from .gsplat_backend import gsplat_view_losses

        return gsplat_view_losses(means, covs, K, world_to_cam, sizes, targets, near, present,
                                  occlusion_targets)
    means2d, cov2d, depth = project_gaussians(means, covs, K, world_to_cam)
    if present is not None:
        depth = torch.where(present[:, None, :], depth, torch.full_like(depth, -1.0))
    if backend == "full":
        from .reference import full_view_losses

        return full_view_losses(means2d, cov2d, depth, targets, sizes, near, alpha_max,
                                occlusion_targets=occlusion_targets)
    from .windowed import window_view_losses

    if backend == "exact":
        windows = exact_windows(targets, means2d.detach(), cov2d.detach())
    elif backend != "window":
        raise ValueError(f"unknown renderer backend {backend!r}; expected one of {BACKENDS}")
    elif windows is None:
        windows = lattice_windows(targets)
    return window_view_losses(means2d, cov2d, depth, targets, windows, sizes, near, alpha_max,
                              occlusion_targets=occlusion_targets)
