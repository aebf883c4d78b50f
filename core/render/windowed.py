"""Windowed EWA splatting of one-hot joint Gaussians and the heatmap loss (PyTorch).

Each (frame, view, joint) channel is evaluated only on its own window lattice; the
front-to-back compositing factor ``T_j = prod_{k in front of j} (1 - alpha_k)`` is computed
only for the pairs (j, k) where Gaussian k's support reaches j's window. With stride-1
windows that cover every support (:func:`~.targets.exact_windows`) this is the full-image
loss of :mod:`.reference`, value and gradient.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .gaussians import ALPHA_MAX, ALPHA_MIN, conic, gaussian_alpha, heatmap_value
from .targets import Targets, Windows, support_radius


def window_view_losses(
    means2d: Tensor,  # [B, V, J, 2]
    cov2d: Tensor,  # [B, V, J, 2, 2]
    depth: Tensor,  # [B, V, J]
    targets: Targets,
    windows: Windows,
    sizes: Tensor,  # [V, 2] (width, height)
    near: float = 1e-2,
    alpha_max: float = ALPHA_MAX,
    alpha_min: float = ALPHA_MIN,
    occlusion_targets: bool = False,
) -> Tensor:  # [B, V]
    """Per-view heatmap loss of every frame.

    ``loss[b, v] = sum_j w_j sum_p (r_j(p) - t_j(p))^2 / #{(j, p): r or t non-zero}`` over
    channels with weight > 0 and pixels inside the image; each lattice point counts for
    stride^2 pixels. Channels with weight 0 contribute nothing.

    ``occlusion_targets`` (our extension, off in the authors' method): the target of
    channel j is dimmed by the same transmittance ``T_j`` as the rendering (a constant for
    the gradient), so a joint partly hidden behind another is not pushed away from it, and
    a perfect fit has zero loss.
    """
    B, V, J, _ = means2d.shape
    dev = means2d.device
    con = conic(cov2d)
    visible = depth > near
    act = targets.weight > 0  # [B, V, J]
    ib, iv, ij = torch.nonzero(act, as_tuple=True)
    if ib.numel() == 0:
        return means2d.sum() * 0.0 + torch.zeros(B, V, dtype=means2d.dtype, device=dev)
    pts_all = windows.points()  # [B, V, J, P, 2]
    pts = pts_all[ib, iv, ij]  # [A, P, 2]
    s2 = windows.stride[ib, iv, ij] ** 2  # [A]
    wh = sizes.to(dev)[iv].to(pts.dtype)  # [A, 2]
    inside = ((pts >= 0) & (pts <= wh[:, None] - 1)).all(-1)  # [A, P]

    own = gaussian_alpha(pts - means2d[ib, iv, ij][:, None], con[ib, iv, ij][:, None],
                         alpha_max, alpha_min)
    own = own * (visible[ib, iv, ij] & inside.any(-1))[:, None]

    # Occluders: Gaussians in front whose support reaches the window.
    with torch.no_grad():
        flat = torch.full((B, V, J), -1, dtype=torch.long, device=dev)
        flat[ib, iv, ij] = torch.arange(ib.numel(), device=dev)
        rad = support_radius(cov2d)  # [B, V, J]
        lo = windows.origin  # [B, V, J, 2]
        hi = windows.origin + (windows.n - 1) * windows.stride[..., None]
        m2 = means2d.detach()
        reach = ((m2[:, :, :, None, :] + rad[:, :, :, None, None] >= lo[:, :, None, :, :])
                 & (m2[:, :, :, None, :] - rad[:, :, :, None, None] <= hi[:, :, None, :, :])
                 ).all(-1)  # [B, V, K, J]
        front = (depth.detach()[:, :, :, None] < depth.detach()[:, :, None, :])
        pair = reach & front & visible[:, :, :, None] & act[:, :, None, :]
        pb, pv, pk, pj = torch.nonzero(pair, as_tuple=True)
    if pb.numel():
        win = flat[pb, pv, pj]
        a_k = gaussian_alpha(pts[win] - means2d[pb, pv, pk][:, None],
                             con[pb, pv, pk][:, None], alpha_max, alpha_min)
        log_t = torch.zeros_like(own).index_add(0, win, torch.log1p(-a_k))
        trans = torch.exp(log_t)
        rendered = own * trans
    else:
        trans = None
        rendered = own
    target = heatmap_value(pts - targets.det[ib, iv, ij][:, None], targets.con[ib, iv, ij][:, None])
    if occlusion_targets and trans is not None:
        target = target * trans.detach()
    rendered = rendered * inside
    target = target * inside
    sq = ((rendered - target) ** 2).sum(-1) * s2 * targets.weight[ib, iv, ij]
    count = ((rendered > 0) | (target > 0)).sum(-1).to(sq.dtype) * s2
    key = ib * V + iv
    num = torch.zeros(B * V, dtype=sq.dtype, device=dev).index_add(0, key, sq)
    den = torch.zeros(B * V, dtype=sq.dtype, device=dev).index_add(0, key, count.detach())
    return (num / den.clamp_min(1.0)).reshape(B, V)
