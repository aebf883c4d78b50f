"""Renderer twins: windowed vs full-image loss and gradients, finite differences."""

from __future__ import annotations

import math

import pytest
import torch

from skelsplat.core.bench.gpu_check import random_scene
from skelsplat.core.render import (
    Targets,
    covariance_3d,
    lattice_windows,
    project_gaussians,
    view_losses,
)


def _scene(B: int = 2, V: int = 2, J: int = 5, seed: int = 0, dtype=torch.float64,
           width: int = 72, height: int = 56, f: float = 300.0):
    """Tiny scene in mm: J joints ~2 m in front of V cameras, overlapping in the images."""
    return tuple(random_scene(B, V, J, seed, width, height, f, "cpu", dtype))


def _loss_and_grads(backend, means, log_scales, quats, K, w2c, sizes, targets, **kw):
    params = [p.clone().requires_grad_(True) for p in (means, log_scales, quats)]
    loss = view_losses(backend, params[0], covariance_3d(params[1], params[2]), K, w2c, sizes,
                       targets, **kw)
    cot = torch.linspace(0.5, 1.5, loss.numel(), dtype=loss.dtype,
                         device=loss.device).reshape(loss.shape)
    grads = torch.autograd.grad((loss * cot).sum(), params)
    return loss.detach(), grads


@pytest.mark.parametrize("B,V,J", [(1, 1, 3), (2, 2, 5), (3, 3, 6)])
def test_exact_windows_match_full_image(B, V, J):
    scene = _scene(B, V, J, seed=B + V + J)
    lf, gf = _loss_and_grads("full", *scene)
    lw, gw = _loss_and_grads("exact", *scene)
    assert (lf > 0).all()
    torch.testing.assert_close(lw, lf, rtol=1e-5, atol=1e-12)
    for a, b in zip(gw, gf):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-9 * b.abs().max().item())


def test_occlusion_dims_the_joint_behind():
    means, ls, q, K, w2c, _, _ = _scene(1, 1, 2, seed=3)
    means = means.clone()
    t = w2c[0, :3, 3]
    means[0, 1] = 1.15 * (means[0, 0] + t) - t  # on the same ray, 15 % further away
    ls = torch.full_like(ls, math.log(20.0))
    q = torch.tensor([1.0, 0, 0, 0], dtype=q.dtype).expand_as(q)
    m2, c2, d = project_gaussians(means, covariance_3d(ls, q), K, w2c)
    from skelsplat.core.render.reference import render_full

    img = render_full(m2[:, 0], c2[:, 0], d[:, 0], 72, 56)
    front = img[0, 0].max().item()
    alone = render_full(m2[:, 0, 1:], c2[:, 0, 1:], d[:, 0, 1:], 72, 56)[0, 0]
    assert 0.95 < front <= 0.99
    assert img[0, 1].sum() < 0.5 * alone.sum()  # mostly hidden behind the front joint
    assert torch.equal(render_full(m2[:, 0, :1], c2[:, 0, :1], d[:, 0, :1], 72, 56)[0, 0],
                       img[0, 0])  # the front joint is not dimmed


def test_lattice_windows_approximate_full_loss():
    means, ls, q, K, w2c, sizes, tg = _scene(2, 2, 5, seed=7, width=400, height=300, f=1500.0)
    lf, gf = _loss_and_grads("full", means, ls, q, K, w2c, sizes, tg)
    lw, gw = _loss_and_grads("window", means, ls, q, K, w2c, sizes, tg,
                             windows=lattice_windows(tg, 1.0, 4.0, max_n=31))
    assert (lattice_windows(tg).stride > 1).any()
    torch.testing.assert_close(lw, lf, rtol=0.05, atol=0)  # coarse lattice: ~3 %
    cos = torch.nn.functional.cosine_similarity(gw[0].flatten(), gf[0].flatten(), dim=0)
    assert cos > 0.99


def test_gradient_matches_finite_differences():
    means, ls, q, K, w2c, sizes, tg = _scene(1, 2, 3, seed=11)

    def f(m, s, qq):
        return view_losses("exact", m, covariance_3d(s, qq), K, w2c, sizes, tg)

    inputs = tuple(p.clone().requires_grad_(True) for p in (means, ls, q))
    assert torch.autograd.gradcheck(f, inputs, eps=1e-6, atol=1e-7, rtol=1e-4)


@pytest.mark.parametrize("B,V,J", [(1, 1, 3), (2, 3, 6)])
def test_fused_window_loss_matches_autograd_twin(B, V, J):
    from skelsplat.core.render.fast_window import fused_window_loss, plan_windows
    from skelsplat.core.render.windowed import window_view_losses

    means, ls, q, K, w2c, sizes, tg = _scene(B, V, J, seed=5 * B + J, width=200, height=150,
                                             f=700.0)
    tg.weight[-1, -1, 0] = 0.0
    win = lattice_windows(tg, 1.0, 3.0)
    m = means.clone().requires_grad_(True)
    s = ls.clone().requires_grad_(True)
    with torch.no_grad():
        m2, c2, d = project_gaussians(m, covariance_3d(s, q), K, w2c)
    plan = plan_windows(tg, win, m2, c2, d, sizes, d > 1e-2)
    assert plan.pairs.shape[0] > 0 or J < 6  # the larger scene has overlapping joints
    out = []
    for fused in (True, False):
        m2, c2, d = project_gaussians(m, covariance_3d(s, q), K, w2c)
        loss = (fused_window_loss(m2, c2, plan) if fused
                else window_view_losses(m2, c2, d, tg, win, sizes))
        cot = torch.linspace(0.5, 1.5, loss.numel(), dtype=loss.dtype,
                         device=loss.device).reshape(loss.shape)
        out.append((loss.detach(), torch.autograd.grad((loss * cot).sum(), [m, s])))
    (lf, gf), (la, ga) = out
    torch.testing.assert_close(lf, la, rtol=1e-6, atol=1e-14)
    for a, b in zip(gf, ga):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-10 * b.abs().max().item())


@pytest.mark.gpu
@pytest.mark.parametrize("occlusion_targets", [False, True])
def test_gsplat_matches_pytorch_renderer(occlusion_targets):
    from skelsplat.core.render.gsplat_backend import GSPLAT_ALPHA_MAX

    means, ls, q, K, w2c, sizes, tg = _scene(2, 3, 6, seed=21, dtype=torch.float32,
                                             width=160, height=120, f=500.0)
    dev = torch.device("cuda")
    tg = Targets(tg.det.to(dev), tg.weight.to(dev), tg.cov.to(dev), tg.con.to(dev))
    args = [x.to(dev) for x in (means, ls, q, K, w2c)] + [sizes]
    out = {}
    for backend in ("gsplat", "full"):
        out[backend] = _loss_and_grads(backend, *args, tg, alpha_max=GSPLAT_ALPHA_MAX,
                                       occlusion_targets=occlusion_targets)
    (lg, gg), (lf, gf) = out["gsplat"], out["full"]
    torch.testing.assert_close(lg, lf, rtol=1e-4, atol=1e-7)
    for a, b in zip(gg, gf):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4 * b.abs().max().item())
