"""Gaussian-skeleton optimisation of batches of frames (tensor level).

Inside the optimiser lengths are millimetres (means, scales, camera translations), as in
the method description, so that the symmetry weight 1e-5 and the learning rates mean what
the authors meant. The 2D detections are *undistorted* pixels: lens distortion is removed
once from the detections and the fit runs in the ideal pinhole image of each camera.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from ..errors import Cancelled, FitError
from ..render import Targets, covariance_3d, lattice_windows, project_gaussians, view_losses
from ..render.fast_window import fused_window_loss, plan_windows
from ..render.gaussians import conic
from ..skeletons import JointSet
from .options import FitOptions

#: Joints that get the wider initial sigma under heavy occlusion (authors' setting).
_WIDE_JOINTS = ("wrist", "elbow", "ankle")
_WIDE_SIGMA_MM = 42.5
#: Gaussians closer to a camera than this (mm) are not rendered in it (3DGS near plane).
NEAR_MM = 10.0


@dataclass
class FrameFit:
    """Result of :func:`fit_frames`.

    Attributes:
        means: [F, J, 3] metres, NaN where the joint was not fitted (no initial guess).
        covariances: [F, J, 3, 3] m^2 of the fitted Gaussians (NaN where not fitted).
        log_scales: [F, J, 3] final log sigmas (mm); quats: [F, J, 4] final rotations.
        iterations: [F] Adam steps taken per frame.
        loss: [F] final loss per frame (heatmap part, mean over views).
    """

    means: np.ndarray
    covariances: np.ndarray
    log_scales: np.ndarray
    quats: np.ndarray
    iterations: np.ndarray
    loss: np.ndarray


class _Adam:
    """Adam on a list of [B, ...] tensors whose rows can be stepped selectively."""

    def __init__(self, params: list[Tensor], eps: float) -> None:
        self.m = [torch.zeros_like(p) for p in params]
        self.v = [torch.zeros_like(p) for p in params]
        self.eps = eps
        self.b1, self.b2 = 0.9, 0.999

    def step(self, params: list[Tensor], grads: list[Tensor], lrs: list[float],
             rows: Tensor, t: int) -> list[Tensor]:
        """Update ``params[i][rows]`` in place; returns the applied steps."""
        out = []
        c1 = 1 - self.b1 ** t
        c2 = 1 - self.b2 ** t
        for p, g, lr, m, v in zip(params, grads, lrs, self.m, self.v):
            mr = m[rows].mul_(self.b1).add_(g, alpha=1 - self.b1)
            vr = v[rows].mul_(self.b2).addcmul_(g, g, value=1 - self.b2)
            m[rows], v[rows] = mr, vr
            step = -lr * (mr / c1) / ((vr / c2).sqrt() + self.eps)
            p[rows] += step
            out.append(step)
        return out


def _symmetry_pairs(joint_set: JointSet | None) -> list[tuple[int, int, int, int]]:
    """(L_a, L_b, R_a, R_b) index quadruples for forearms and shins present in the set."""
    if joint_set is None:
        return []
    out = []
    for a, b in (("elbow", "wrist"), ("knee", "ankle")):
        names = [f"left_{a}", f"left_{b}", f"right_{a}", f"right_{b}"]
        if all(n in joint_set.joints for n in names):
            out.append(tuple(joint_set.index(n) for n in names))
    return out


def initial_sigmas_mm(joint_set: JointSet | None, n_joints: int, options: FitOptions) -> np.ndarray:
    """[J] initial isotropic sigma of each joint (mm)."""
    sig = np.full(n_joints, float(options.sigma_mm))
    if options.heavy_occlusion and joint_set is not None:
        for j, name in enumerate(joint_set.joints):
            if any(w in name for w in _WIDE_JOINTS):
                sig[j] = _WIDE_SIGMA_MM
    return sig


def fit_frames(
    keypoints: np.ndarray,  # [F, V, J, 3]  undistorted u, v (px), weight; 0 = unused
    K: np.ndarray,  # [V, 3, 3]
    world_to_cam: np.ndarray,  # [V, 4, 4]  metres
    init: np.ndarray,  # [F, J, 3]  metres, NaN = not fitted
    sizes: np.ndarray,  # [V, 2]  (width, height) px
    options: FitOptions,
    lr_mean_mm: float,
    joint_set: JointSet | None = None,
    bone_lengths_mm: np.ndarray | None = None,  # [Bn]  NaN = bone not constrained
    warm_start: tuple[np.ndarray, np.ndarray] | None = None,  # ([J, 3], [J, 4])
    on_step: Callable[[int, int], None] | None = None,
    cancel: object | None = None,
) -> FrameFit:
    """Fit the Gaussian skeleton of F frames together (one chunk; frames are independent
    except through the fixed whole-take bone lengths).

    ``options`` must be resolved (:meth:`FitOptions.resolved`). ``on_step(done, total)`` is
    called after every Adam step; ``cancel.is_set()`` is checked before every step and
    raises :class:`~skelsplat.core.errors.Cancelled`.
    """
    F, V, J, _ = keypoints.shape
    if init.shape != (F, J, 3):
        raise FitError(f"initial guess must be [{F}, {J}, 3], got {init.shape}")
    if K.shape != (V, 3, 3) or world_to_cam.shape != (V, 4, 4):
        raise FitError(f"K must be [{V}, 3, 3] and world_to_cam [{V}, 4, 4], got "
                       f"{K.shape} and {world_to_cam.shape}")
    dev = torch.device(options.device)
    dt = torch.float64 if options.dtype == "float64" else torch.float32

    def T(x: np.ndarray) -> Tensor:
        return torch.as_tensor(np.asarray(x), dtype=dt, device=dev)

    present = np.isfinite(init).all(-1)  # [F, J]
    w2c = np.array(world_to_cam, dtype=float)
    w2c[:, :3, 3] *= 1000.0
    Kt, w2ct, sizes_t = T(K), T(w2c), torch.as_tensor(np.asarray(sizes), device=dev)
    means = T(np.where(present[..., None], init, 0.0) * 1000.0)
    pres_t = torch.as_tensor(present, device=dev)

    sig0 = initial_sigmas_mm(joint_set, J, options)
    log_s0 = T(np.log(sig0))[None, :, None].expand(F, J, 3)
    q_id = T(np.array([1.0, 0.0, 0.0, 0.0]))
    with torch.no_grad():
        m2, c2, depth = project_gaussians(means, covariance_3d(log_s0, q_id.expand(F, J, 4)),
                                          Kt, w2ct)
    det = np.nan_to_num(keypoints[..., :2])
    conf = np.where(np.isfinite(keypoints[..., :2]).all(-1), keypoints[..., 2], 0.0)
    if not options.use_confidence:
        conf = (conf > 0).astype(float)
    weight = T(conf) * (depth > NEAR_MM) * pres_t[:, None, :]
    targets = Targets(T(det), weight, c2, conic(c2))
    plan = None
    if options.renderer == "window":
        windows = lattice_windows(targets, options.points_per_sigma, options.window_sigmas,
                                  options.max_window)
        plan = plan_windows(targets, windows, m2, c2, depth, sizes_t,
                            (depth > NEAR_MM) & pres_t[:, None, :])

    if on_step is not None:
        on_step(0, int(options.iterations))
    if warm_start is not None:
        log_s = T(warm_start[0])[None].expand(F, J, 3).clone()
        quats = T(warm_start[1])[None].expand(F, J, 4).clone()
    else:
        log_s = log_s0.clone()
        quats = q_id.expand(F, J, 4).clone()
    params = [means, log_s, quats]
    adam = _Adam(params, options.adam_eps)

    sym = torch.as_tensor(_symmetry_pairs(joint_set), dtype=torch.long, device=dev).reshape(-1, 4)
    bones = None
    if joint_set is not None and bone_lengths_mm is not None and options.bone_length_weight:
        bl = np.asarray(bone_lengths_mm, dtype=float)
        keep = np.isfinite(bl)
        if keep.any():
            bones = (torch.as_tensor(joint_set.bone_indices[keep], device=dev), T(bl[keep]))

    steps = int(options.iterations)
    decay = math.log(options.lr_final_fraction) / max(steps - 1, 1)
    active = torch.nonzero(pres_t.any(1)).flatten()
    plan_rows, sub_plan, sub_targets = None, None, None
    iters = np.zeros(F, dtype=int)
    loss_out = torch.full((F,), float("nan"), dtype=dt, device=dev)
    for t in range(1, steps + 1):
        if cancel is not None and cancel.is_set():
            raise Cancelled("fit cancelled")
        if active.numel() == 0:
            break
        leaf = [p[active].detach().requires_grad_(True) for p in params]
        pr = pres_t[active]
        covs = covariance_3d(leaf[1], leaf[2])
        if plan_rows is None or plan_rows.numel() != active.numel():
            plan_rows = active
            sub_targets = targets.index(active)
            sub_plan = None if plan is None else plan.index(active)
        if sub_plan is not None:
            m2a, c2a, _ = project_gaussians(leaf[0], covs, Kt, w2ct)
            lv = fused_window_loss(m2a, c2a, sub_plan,
                                   occlusion_targets=bool(options.occlusion_targets))
        else:
            lv = view_losses(options.renderer, leaf[0], covs, Kt, w2ct, sizes_t, sub_targets,
                             near=NEAR_MM, present=pr,
                             occlusion_targets=bool(options.occlusion_targets))
        per_frame = lv.mean(1)
        total = per_frame.sum()
        if sym.numel():
            mm = leaf[0]
            la = (mm[:, sym[:, 0]] - mm[:, sym[:, 1]]).norm(dim=-1)
            ra = (mm[:, sym[:, 2]] - mm[:, sym[:, 3]]).norm(dim=-1)
            ok = pr[:, sym].all(-1)
            total = total + options.symmetry_weight * ((la - ra).abs() * ok).sum()
        if bones is not None:
            idx, length = bones
            d = (leaf[0][:, idx[:, 0]] - leaf[0][:, idx[:, 1]]).norm(dim=-1)
            ok = pr[:, idx].all(-1)
            c2 = options.bone_length_scale_mm ** 2
            rho = c2 * torch.log1p((d - length) ** 2 / c2)
            total = total + options.bone_length_weight * (rho * ok).sum()
        grads = torch.autograd.grad(total, leaf)
        lr = lr_mean_mm * math.exp(decay * (t - 1))
        with torch.no_grad():
            step = adam.step(params, list(grads), [lr, options.lr_scale, options.lr_rotation],
                             active, t)
            loss_out[active] = per_frame.detach()
            move = (step[0].norm(dim=-1) * pr).amax(-1)
        iters[active.cpu().numpy()] = t
        if on_step is not None:
            on_step(t, steps)
        if t >= options.min_iterations and options.tolerance_mm > 0:
            active = active[move >= options.tolerance_mm]

    with torch.no_grad():
        covs = covariance_3d(log_s, quats) / 1e6
    out_means = means.detach().cpu().numpy().astype(float) / 1000.0
    out_covs = covs.cpu().numpy().astype(float)
    out_means[~present] = np.nan
    out_covs[~present] = np.nan
    return FrameFit(out_means, out_covs, log_s.detach().cpu().numpy().astype(float),
                    quats.detach().cpu().numpy().astype(float), iters,
                    loss_out.cpu().numpy().astype(float))


def timed(fn: Callable, timings: dict, name: str):
    """Run ``fn()`` and add its wall time (s) to ``timings[name]``."""
    t0 = time.perf_counter()
    out = fn()
    timings[name] = timings.get(name, 0.0) + time.perf_counter() - t0
    return out
