"""Full-image reference renderer and loss: plain, slow, obviously correct.

Renders every joint channel at every pixel of every view (as the authors' rasterizer
does at full resolution) and composites front to back by the depth of the means. The
windowed renderer must match it wherever its windows cover the supports.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .gaussians import ALPHA_MAX, ALPHA_MIN, conic, gaussian_alpha, heatmap_value
from .targets import Targets


def render_full(
    means2d: Tensor,  # [B, J, 2]  one view
    cov2d: Tensor,  # [B, J, 2, 2]
    depth: Tensor,  # [B, J]
    width: int,
    height: int,
    near: float = 1e-2,
    alpha_max: float = ALPHA_MAX,
    alpha_min: float = ALPHA_MIN,
    with_transmittance: bool = False,
) -> Tensor | tuple[Tensor, Tensor]:  # [B, J, H, W]
    """One-hot channel images of one view: channel j = alpha_j * prod_{front k}(1 - alpha_k).

    With ``with_transmittance`` also returns the product (``T_j``) per channel and pixel.
    """
    ys, xs = torch.meshgrid(torch.arange(height, dtype=means2d.dtype, device=means2d.device),
                            torch.arange(width, dtype=means2d.dtype, device=means2d.device),
                            indexing="ij")
    pix = torch.stack([xs, ys], -1).reshape(-1, 2)  # [HW, 2]
    con = conic(cov2d)
    alpha = gaussian_alpha(pix[None, None] - means2d[:, :, None], con[:, :, None],
                           alpha_max, alpha_min)  # [B, J, HW]
    alpha = alpha * (depth > near)[..., None]
    front = (depth[:, :, None] < depth[:, None, :]).to(alpha.dtype)  # [B, K, J]
    log_t = torch.einsum("bkj,bkp->bjp", front, torch.log1p(-alpha))
    trans = torch.exp(log_t)
    img = (alpha * trans).reshape(*alpha.shape[:2], height, width)
    if with_transmittance:
        return img, trans.reshape(img.shape)
    return img


def full_view_losses(
    means2d: Tensor,  # [B, V, J, 2]
    cov2d: Tensor,  # [B, V, J, 2, 2]
    depth: Tensor,  # [B, V, J]
    targets: Targets,
    sizes: Tensor,  # [V, 2]
    near: float = 1e-2,
    alpha_max: float = ALPHA_MAX,
    alpha_min: float = ALPHA_MIN,
    occlusion_targets: bool = False,
) -> Tensor:  # [B, V]
    """The heatmap loss of :func:`.windowed.window_view_losses`, on full images."""
    out = []
    for v in range(means2d.shape[1]):
        w, h = (int(x) for x in sizes[v])
        img, trans = render_full(means2d[:, v], cov2d[:, v], depth[:, v], w, h, near,
                                 alpha_max, alpha_min, with_transmittance=True)
        out.append(full_loss_from_images(img.flatten(2), targets, v, w, h,
                                         trans.flatten(2).detach() if occlusion_targets
                                         else None))
    return torch.stack(out, 1)


def full_loss_from_images(img: Tensor, targets: Targets, v: int, width: int, height: int,
                          dim: Tensor | None = None) -> Tensor:  # [B]
    """Loss of rendered channel images img [B, J, H*W] of view v against its targets
    (multiplied by ``dim`` [B, J, H*W] when given: occlusion-aware targets)."""
    ys, xs = torch.meshgrid(torch.arange(height, dtype=img.dtype, device=img.device),
                            torch.arange(width, dtype=img.dtype, device=img.device),
                            indexing="ij")
    pix = torch.stack([xs, ys], -1).reshape(-1, 2)
    det = targets.det[:, v].to(img.dtype)
    tgt = heatmap_value(pix[None, None] - det[:, :, None], targets.con[:, v, :, None].to(img.dtype))
    if dim is not None:
        tgt = tgt * dim
    wgt = targets.weight[:, v].to(img.dtype)  # [B, J]
    act = (wgt > 0)[..., None]
    sq = (((img - tgt) ** 2) * act).sum(-1) * wgt
    count = (((img > 0) | (tgt > 0)) & act).sum((-1, -2)).to(img.dtype)
    return sq.sum(-1) / count.clamp_min(1.0)
