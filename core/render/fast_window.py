"""Fused windowed heatmap loss with a hand-written backward pass (the fast CPU path).

Same loss as :func:`.windowed.window_view_losses` (its autograd twin, compared in the
tests), restricted to what stays fixed while a chunk of frames is optimised: the windows
(centred on the detections), the target values on them, and the list of occluder pairs
(which Gaussian is in front of which, and whose support reaches which window; taken from
the initial guess). All tensors are dense [B, V, J, P] over frames, views, joints and
window points, so one iteration is a handful of element-wise passes with no autograd
graph over the pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from .gaussians import ALPHA_MAX, ALPHA_MIN, conic, heatmap_value
from .targets import Targets, Windows, support_radius


@dataclass
class WindowPlan:
    """Fixed per-chunk data of the fused loss.

    Attributes:
        px, py: [B, V, J, P] window point coordinates (px), contiguous.
        target: [B, V, J, P] heatmap values (0 outside the image).
        mask: [B, V, J, P] 1 inside the image where the Gaussian is visible, else 0.
        wgt: [B, V, J] confidence x stride^2 (0 = channel unused).
        s2: [B, V, J] stride^2 where the channel is used, else 0 (for the count).
        pairs: [M, 4] long (b, v, j, k): Gaussian k may occlude window (b, v, j).
    """

    px: Tensor
    py: Tensor
    target: Tensor
    mask: Tensor
    wgt: Tensor
    s2: Tensor
    pairs: Tensor

    def index(self, rows: Tensor) -> WindowPlan:
        """The plan restricted to frames ``rows`` ([B'] sorted unique indices)."""
        B = self.px.shape[0]
        remap = torch.full((B,), -1, dtype=torch.long, device=rows.device)
        remap[rows] = torch.arange(rows.numel(), device=rows.device)
        pr = self.pairs
        keep = remap[pr[:, 0]] >= 0
        pr = pr[keep].clone()
        pr[:, 0] = remap[pr[:, 0]]
        return WindowPlan(self.px[rows], self.py[rows], self.target[rows], self.mask[rows],
                          self.wgt[rows], self.s2[rows], pr)


def plan_windows(
    targets: Targets,
    windows: Windows,
    means2d: Tensor,  # [B, V, J, 2]  initial projections
    cov2d: Tensor,  # [B, V, J, 2, 2]
    depth: Tensor,  # [B, V, J]
    sizes: Tensor,  # [V, 2]
    visible: Tensor,  # [B, V, J] bool
    margin_px: float = 4.0,
) -> WindowPlan:
    """Precompute the fixed parts of the fused loss for one chunk."""
    with torch.no_grad():
        pts = windows.points()
        wh = sizes.to(device=pts.device, dtype=pts.dtype)[None, :, None, None, :]
        inside = ((pts >= 0) & (pts <= wh - 1)).all(-1).to(pts.dtype)
        target = heatmap_value(pts - targets.det[..., None, :], targets.con[..., None, :]) * inside
        act = targets.weight > 0
        s2 = windows.stride ** 2
        wgt = torch.where(act, targets.weight * s2, torch.zeros_like(s2))
        rad = support_radius(cov2d) + margin_px
        lo = windows.origin
        hi = windows.origin + (windows.n - 1) * windows.stride[..., None]
        m = means2d
        reach = ((m[:, :, :, None, :] + rad[..., None, None] >= lo[:, :, None])
                 & (m[:, :, :, None, :] - rad[..., None, None] <= hi[:, :, None])).all(-1)
        front = depth[:, :, :, None] < depth[:, :, None, :]  # [B, V, K, J]
        pair = reach & front & visible[:, :, :, None] & act[:, :, None, :]
        pb, pv, pk, pj = torch.nonzero(pair, as_tuple=True)
        pairs = torch.stack([pb, pv, pj, pk], -1)
        return WindowPlan(pts[..., 0].contiguous(), pts[..., 1].contiguous(), target,
                          inside * visible[..., None], wgt,
                          torch.where(act, s2, torch.zeros_like(s2)), pairs)


def _alpha(dx: Tensor, dy: Tensor, a: Tensor, b: Tensor, c: Tensor, alpha_max: float,
           alpha_min: float) -> tuple[Tensor, Tensor]:
    """alpha at offsets (dx, dy) [..., P] for conic entries a, b, c [..., 1], and the
    differentiable part (exp(-q/2) where neither clamped nor cut, else 0)."""
    q = dx * (a * dx + (2 * b) * dy) + c * dy * dy
    g = torch.exp(-0.5 * q)
    keep = g >= alpha_min
    alpha = torch.where(keep, g.clamp(max=alpha_max), 0.0)
    live = torch.where(keep & (g < alpha_max), g, 0.0)
    return alpha, live


def _grad_from_q(gq: Tensor, dx: Tensor, dy: Tensor, a: Tensor, b: Tensor, c: Tensor
                 ) -> tuple[Tensor, Tensor]:
    """Gradients on the mean [..., 2] and conic [..., 3] from dL/dq [..., P]."""
    u = gq * dx
    w = gq * dy
    su, sw = u.sum(-1), w.sum(-1)
    a, b, c = a[..., 0], b[..., 0], c[..., 0]
    g_mean = torch.stack([-2 * (a * su + b * sw), -2 * (b * su + c * sw)], -1)
    g_con = torch.stack([(u * dx).sum(-1), 2 * (u * dy).sum(-1), (w * dy).sum(-1)], -1)
    return g_mean, g_con


class _FusedWindowLoss(torch.autograd.Function):
    @staticmethod
    def forward(ctx, means2d: Tensor, con: Tensor, plan: WindowPlan, alpha_max: float,
                alpha_min: float, occlusion_targets: bool) -> Tensor:
        a, b, c = con[..., 0:1], con[..., 1:2], con[..., 2:3]
        dx = plan.px - means2d[..., 0:1]  # [B, V, J, P]
        dy = plan.py - means2d[..., 1:2]
        own, live = _alpha(dx, dy, a, b, c, alpha_max, alpha_min)
        own = own * plan.mask
        pr = plan.pairs
        occ = None
        if pr.numel():
            pb, pv, pj, pk = pr.unbind(-1)
            ck = con[pb, pv, pk]
            mk = means2d[pb, pv, pk]
            dkx = plan.px[pb, pv, pj] - mk[:, 0:1]
            dky = plan.py[pb, pv, pj] - mk[:, 1:2]
            ak, livek = _alpha(dkx, dky, ck[:, 0:1], ck[:, 1:2], ck[:, 2:3], alpha_max,
                               alpha_min)
            log_t = torch.zeros_like(own)
            log_t.index_put_((pb, pv, pj), torch.log1p(-ak), accumulate=True)
            trans = torch.exp(log_t)
            r = own * trans
            occ = (dkx, dky, ak, livek, ck)
        else:
            trans = None
            r = own
        target = plan.target if trans is None or not occlusion_targets else plan.target * trans
        diff = r - target
        count = (((r > 0) | (target > 0)).sum(-1).to(r.dtype) * plan.s2).sum(-1)
        den = count.clamp_min(1.0)  # [B, V]
        loss = (plan.wgt * (diff * diff).sum(-1)).sum(-1) / den
        ctx.plan = plan
        ctx.occ = occ
        ctx.trans = trans
        ctx.save_for_backward(con, dx, dy, live, r, diff, den)
        return loss

    @staticmethod
    def backward(ctx, g_loss: Tensor):
        con, dx, dy, live, r, diff, den = ctx.saved_tensors
        plan: WindowPlan = ctx.plan
        a, b, c = con[..., 0:1], con[..., 1:2], con[..., 2:3]
        # dL/dr at every window point
        e = (2 * g_loss / den)[..., None, None] * plan.wgt[..., None] * diff
        g_own = e * plan.mask if ctx.trans is None else e * (ctx.trans * plan.mask)
        g_mean, g_con = _grad_from_q(-0.5 * live * g_own, dx, dy, a, b, c)
        if ctx.occ is not None:
            dkx, dky, ak, livek, ck = ctx.occ
            pb, pv, pj, pk = plan.pairs.unbind(-1)
            gak = -(e * r)[pb, pv, pj] / (1 - ak)
            gmk, gck = _grad_from_q(-0.5 * livek * gak, dkx, dky, ck[:, 0:1], ck[:, 1:2],
                                    ck[:, 2:3])
            g_mean = g_mean.index_put((pb, pv, pk), gmk, accumulate=True)
            g_con = g_con.index_put((pb, pv, pk), gck, accumulate=True)
        return g_mean, g_con, None, None, None, None


def fused_window_loss(
    means2d: Tensor,  # [B, V, J, 2]
    cov2d: Tensor,  # [B, V, J, 2, 2]
    plan: WindowPlan,
    alpha_max: float = ALPHA_MAX,
    alpha_min: float = ALPHA_MIN,
    occlusion_targets: bool = False,
) -> Tensor:  # [B, V]
    """Per-view heatmap loss of every frame on the plan's windows (differentiable in
    ``means2d`` and ``cov2d``). ``occlusion_targets``: see ``window_view_losses``."""
    return _FusedWindowLoss.apply(means2d, conic(cov2d), plan, alpha_max, alpha_min,
                                  occlusion_targets)
