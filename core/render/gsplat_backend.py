"""Full-resolution rendering with ``gsplat.rasterization`` (CUDA only; imported lazily).

The J joints are N = J Gaussians with one-hot colours (D = J channels, any J: gsplat
renders arbitrary feature channels, in chunks of 32 with shared transmittance), rendered
for the V cameras of one frame per call (C = V cameras), with ``packed=False``.
Differences to the INRIA rasterizer the authors used, kept here and mirrored by the
PyTorch renderer when compared (``alpha_max=GSPLAT_ALPHA_MAX``): alpha is clamped at
0.999 (INRIA: 0.99) and a pixel stops compositing once T <= 1e-4. gsplat samples pixel
(i, j) at (i + 0.5, j + 0.5); OpenCV puts pixel centres at integers, so the principal
point is shifted by +0.5 px.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .gaussians import EPS2D, conic, gaussian_alpha, project_gaussians
from .reference import full_loss_from_images
from .targets import Targets

#: gsplat's alpha clamp (``min(0.999, opacity * exp(-sigma))``).
GSPLAT_ALPHA_MAX = 0.999


def _gsplat():
    try:
        from gsplat import rasterization
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise RuntimeError(f"the gsplat renderer needs the gsplat package ({exc})") from None
    return rasterization


def render_gsplat(
    means: Tensor,  # [B, J, 3]
    covs: Tensor,  # [B, J, 3, 3]
    K: Tensor,  # [V, 3, 3]
    world_to_cam: Tensor,  # [V, 4, 4]
    width: int,
    height: int,
    near: float = 1e-2,
    present: Tensor | None = None,  # [B, J] bool
) -> Tensor:  # [B, V, J, H, W]
    """One-hot channel images of every frame and view, rendered by gsplat (float32, CUDA)."""
    if means.device.type != "cuda":
        raise RuntimeError("the gsplat renderer runs on CUDA only; use the 'window' renderer")
    rasterization = _gsplat()
    B, J, _ = means.shape
    f32 = torch.float32
    dev = means.device
    Kg = K.to(f32).clone()
    Kg[:, 0, 2] += 0.5
    Kg[:, 1, 2] += 0.5
    viewmats = world_to_cam.to(f32).contiguous()
    opac = torch.ones(B, J, device=dev, dtype=f32)
    if present is not None:
        opac = opac * present.to(f32)
    colors = torch.eye(J, device=dev, dtype=f32)
    quats = torch.zeros(J, 4, device=dev, dtype=f32)
    quats[:, 0] = 1.0
    scales = torch.ones(J, 3, device=dev, dtype=f32)
    m32, c32 = means.to(f32), covs.to(f32)
    # One call per frame: gsplat 1.5.3's batched call (batch dims [B]) gave the right loss
    # but wrong gradients for B > 1 on an H200 (gradient differences of 100 % of their
    # size; docs/benchmarks.md, GPU section), while B = 1 agreed to 1e-7.
    frames = []
    for b in range(B):
        img, _, _ = rasterization(
            m32[b].contiguous(), quats, scales, opac[b], colors, viewmats, Kg, width, height,
            near_plane=near, eps2d=EPS2D, packed=False, covars=c32[b].contiguous(),
            render_mode="RGB", rasterize_mode="classic")
        frames.append(img.permute(0, 3, 1, 2))  # [V, J, H, W]
    return torch.stack(frames)  # [B, V, J, H, W]


def gsplat_view_losses(
    means: Tensor,  # [B, J, 3]
    covs: Tensor,  # [B, J, 3, 3]
    K: Tensor,  # [V, 3, 3]
    world_to_cam: Tensor,  # [V, 4, 4]
    sizes: Tensor,  # [V, 2]
    targets: Targets,
    near: float = 1e-2,
    present: Tensor | None = None,
    occlusion_targets: bool = False,
) -> Tensor:  # [B, V]
    """The heatmap loss of :func:`.reference.full_view_losses`, rendered by gsplat.

    Every view is rendered at the largest image size and cropped to its own.
    """
    W = int(sizes[:, 0].max())
    H = int(sizes[:, 1].max())
    img = render_gsplat(means, covs, K, world_to_cam, W, H, near, present)
    dim = None
    if occlusion_targets:
        with torch.no_grad():  # T_j = rendered / own alpha, where the own alpha is non-zero
            m2, c2, _ = project_gaussians(means.float(), covs.float(), K.float(),
                                          world_to_cam.float())
    out = []
    for v in range(K.shape[0]):
        w, h = (int(x) for x in sizes[v])
        iv = img[:, v, :, :h, :w].flatten(2)  # [B, J, h*w]
        if occlusion_targets:
            ys, xs = torch.meshgrid(torch.arange(h, device=img.device, dtype=img.dtype),
                                    torch.arange(w, device=img.device, dtype=img.dtype),
                                    indexing="ij")
            pix = torch.stack([xs, ys], -1).reshape(-1, 2)
            a = gaussian_alpha(pix[None, None] - m2[:, v, :, None], conic(c2[:, v])[:, :, None],
                               GSPLAT_ALPHA_MAX)
            dim = torch.where(a > 0, iv.detach() / a.clamp_min(1e-12), torch.ones_like(a))
        out.append(full_loss_from_images(iv, targets, v, w, h, dim))
    return torch.stack(out, 1).to(means.dtype)
