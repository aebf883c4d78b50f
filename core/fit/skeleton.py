"""One skeleton per take: the actor's bone lengths, and every frame posed under them.

The per-frame Gaussian fit gives each joint a position ``X`` [F, J, 3] from the views it
trusts (the heatmap loss does the robust work per view). Around that answer the views pin a
joint down unevenly: well across each camera's image plane, poorly along its rays. The
information of joint j in frame f is

    H_fj = sum_v w_fjv J_fjv^T J_fjv        (px^2 per m^2)

with ``J`` the 2 x 3 Jacobian of camera v's pinhole projection at ``X_fj`` and ``w`` the
weight the fit gave that detection (its confidence; 0 for views it did not use). Posing the
skeleton is then a Gauss-Newton step of the reprojection error under the constraint of
fixed bone lengths:

    min_Y  sum_fj rho((Y_fj - X_fj)^T H_fj (Y_fj - X_fj))   s.t. |Y_a - Y_b| = L_b,

``rho`` the Cauchy loss (scale ``robust_px``: a joint far off in one frame cannot drag its
neighbours). ``Y`` is parametrised by forward kinematics over the bone tree (root position
and a unit direction per bone), so the constraint holds exactly in every frame; frames are
solved together by batched Levenberg-Marquardt.

The lengths ``L`` are estimated once per take, robustly, from the best-supported frames
(most joints seen by >= 3 views): each bone's median length over the frames where both its
ends are seen by >= 3 views (:func:`estimate_skeleton`). Each sampled length is first
corrected for the error of its two ends, which lengthens a bone on average (by ~10 mm on the
benchmark's correlated detector noise): ``l^2 - tr_perp(S)``, with ``S = s^2 (H_a^-1 +
H_b^-1)`` the ends' covariance across the bone and ``s^2`` the detection noise measured from
the free fit's residuals (:func:`detection_noise_px2`). (A whole-take least-squares
refinement of the lengths, alternating with the poses, moved them by < 1 mm on clean takes
and by > 10 cm on heavily corrupted ones: the median is what we ship.)
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ..metrics import bone_lengths, robust_lengths
from ..skeletons import JointSet

#: Frames used for the whole-take length estimate (the best supported ones).
LENGTH_FRAMES = 200
#: Cauchy scale of the posing loss (px, on the summed squared reprojection over views).
ROBUST_PX = 20.0
#: Largest share of a bone's length the end-error correction may remove.
MAX_LENGTH_SHRINK = 0.15
#: Isotropic information floor, as a share of the take's median per-joint information: a
#: joint seen by one view (no depth) follows its bones instead of drifting.
INFO_FLOOR = 1e-3


@dataclass
class Skeleton:
    """The actor's bones for a whole take.

    Attributes:
        joint_set: name of the joint set.
        bones: [B, 2] (parent, child) joint indices, parents before children (a tree).
        bone_names: B names ``"parent-child"``.
        lengths_m: [B] metres, NaN where the bone could not be estimated (its child is then
            posed without a length constraint).
        method: how the lengths were estimated (text for reports and files).
        frames_used: frames that entered the length estimate.
        spread_m: [B] robust spread (1.4826 x MAD) of each bone's length in the free fit
            over those frames (how much the per-frame answers disagreed).
        detection_noise_px: the detection noise the lengths were corrected for (px at
            confidence 1; NaN: not corrected).
    """

    joint_set: str
    bones: np.ndarray
    bone_names: list[str]
    lengths_m: np.ndarray
    method: str
    frames_used: int = 0
    spread_m: np.ndarray = field(default_factory=lambda: np.zeros(0))
    detection_noise_px: float = float("nan")

    def as_dict(self) -> dict:
        return {"joint_set": self.joint_set, "bone_names": list(self.bone_names),
                "lengths_m": [float(x) for x in self.lengths_m], "method": self.method,
                "frames_used": int(self.frames_used),
                "spread_m": [float(x) for x in self.spread_m],
                "detection_noise_px": float(self.detection_noise_px)}


def bone_tree(joint_set: JointSet) -> tuple[int, np.ndarray]:
    """Root joint and the bones as (parent, child) pairs in breadth-first order from it.

    The root is ``mid_hip`` / ``pelvis`` / ``hip`` when present, else ``left_hip`` when its
    part of the bone graph is the largest (BlazePose's face is not linked to its body), else
    joint 0. Bones closing a loop are left out (the result is a spanning tree of the root's
    part of the bone graph); joints outside it have no entry.
    """
    names = list(joint_set.joints)
    adj: dict[int, list[int]] = {j: [] for j in range(joint_set.n)}
    for a, b in joint_set.bone_indices:
        adj[int(a)].append(int(b))
        adj[int(b)].append(int(a))

    def component(start: int) -> set[int]:
        seen, todo = {start}, [start]
        while todo:
            for k in adj[todo.pop()]:
                if k not in seen:
                    seen.add(k)
                    todo.append(k)
        return seen

    root = next((names.index(n) for n in ("mid_hip", "pelvis", "hip") if n in names), None)
    if root is None:
        root = max(range(joint_set.n), key=lambda j: (len(component(j)), names[j] == "left_hip",
                                                      -j))
    seen, order, out = {root}, [root], []
    for j in order:
        for k in adj[j]:
            if k not in seen:
                seen.add(k)
                order.append(k)
                out.append((j, k))
    return root, np.array(out, dtype=int).reshape(-1, 2)


def joint_information(
    X: np.ndarray,  # [F, J, 3] metres
    K: np.ndarray,  # [V, 3, 3]
    world_to_cam: np.ndarray,  # [V, 4, 4] metres
    weights: np.ndarray,  # [F, J, V] weight of each detection (0 = unused)
    block: int = 256,
) -> np.ndarray:  # [F, J, 3, 3] px^2 / m^2
    """Information of every joint from the views that support it (pinhole Jacobians),
    computed in blocks of ``block`` frames (the temporaries stay the size of a block)."""
    H = np.zeros((*np.shape(X)[:2], 3, 3))
    for s in range(0, len(H), block):
        e = min(len(H), s + block)
        H[s:e] = _information_block(np.asarray(X[s:e], dtype=float), K, world_to_cam,
                                    weights[s:e])
    return H


def pinhole_jacobian(pc: np.ndarray,  # [..., 3] camera coordinates (m)
                     z: np.ndarray,  # [...] depth, kept away from 0
                     fx: np.ndarray | float, fy: np.ndarray | float,  # broadcast with [...]
                     R: np.ndarray,  # [..., 3, 3] world -> camera rotation (broadcast)
                     ) -> np.ndarray:  # [..., 2, 3] px per metre of world motion
    """Derivative of a pinhole projection with respect to the world point."""
    Jc = np.zeros((*pc.shape[:-1], 2, 3))
    Jc[..., 0, 0] = fx / z
    Jc[..., 0, 2] = -fx * pc[..., 0] / z ** 2
    Jc[..., 1, 1] = fy / z
    Jc[..., 1, 2] = -fy * pc[..., 1] / z ** 2
    return Jc @ R


def _information_block(X: np.ndarray, K: np.ndarray, world_to_cam: np.ndarray,
                       weights: np.ndarray) -> np.ndarray:  # [f, J, 3, 3]
    X = np.nan_to_num(X)
    R, t = world_to_cam[:, :3, :3], world_to_cam[:, :3, 3]
    H = np.zeros((*X.shape[:2], 3, 3))
    for v in range(len(K)):
        w = weights[..., v]
        if not (w > 0).any():
            continue
        pc = X @ R[v].T + t[v]  # [f, J, 3]
        z = np.where(np.abs(pc[..., 2]) > 1e-6, pc[..., 2], 1e-6)
        Jw = pinhole_jacobian(pc, z, K[v, 0, 0], K[v, 1, 1], R[v])  # [f, J, 2, 3]
        H += np.where((w > 0) & (pc[..., 2] > 0), w, 0.0)[..., None, None] * \
            np.einsum("fjki,fjkl->fjil", Jw, Jw)
    return H


def information_floor(H: np.ndarray, valid: np.ndarray) -> float:
    """Isotropic information added to every joint (``INFO_FLOOR`` of the median trace)."""
    tr = np.trace(H, axis1=-2, axis2=-1)[valid]
    return INFO_FLOOR * (float(np.median(tr)) if tr.size and np.median(tr) > 0 else 1.0)


def _solve(A: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Batched ``A x = b`` for symmetric positive definite A [F, P, P], b [F, P] (torch's
    batched Cholesky: numpy's batched solve is ~50x slower on small matrices)."""
    import torch

    At, bt = torch.from_numpy(np.ascontiguousarray(A)), torch.from_numpy(b[..., None])
    L, info = torch.linalg.cholesky_ex(At)
    x = torch.cholesky_solve(bt, L)[..., 0].numpy()
    bad = info.numpy() != 0
    for i in np.flatnonzero(bad):  # not positive definite (degenerate frame): lstsq
        x[i] = np.linalg.lstsq(A[i], b[i], rcond=None)[0]
    return x


def _ancestors(root: int, bones: np.ndarray, n_joints: int) -> np.ndarray:
    """[J, B] True where bone b lies on the path from the root to joint j."""
    A = np.zeros((n_joints, len(bones)), dtype=bool)
    bone_of = {int(c): i for i, (_, c) in enumerate(bones)}
    for j in range(n_joints):
        k = j
        while k in bone_of:
            i = bone_of[k]
            A[j, i] = True
            k = int(bones[i, 0])
    return A


def _start(X: np.ndarray, valid: np.ndarray, root: int, bones: np.ndarray,
           lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Initial root [F, 3] and bone directions [F, B, 3] (free offsets for bones of unknown
    length): each child is aimed at its free-fit position *from its already placed parent*,
    so a length that is off moves only that joint, never the chain below it. Invalid joints
    start at their frame's centre."""
    Xf = np.where(valid[..., None], X, np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        centre = np.nanmean(Xf, axis=1)  # [F, 3]
    centre = np.where(np.isfinite(centre), centre, 0.0)
    Xi = np.where(valid[..., None], X, centre[:, None])
    placed = {root: Xi[:, root].copy()}
    dirs = np.zeros((X.shape[0], len(bones), 3))
    for i, (p, c) in enumerate(bones):  # parents before children
        vec = Xi[:, c] - placed[int(p)]
        if np.isfinite(lengths[i]):
            n = np.linalg.norm(vec, axis=-1, keepdims=True)
            dirs[:, i] = np.where(n > 1e-9, vec / np.maximum(n, 1e-12), [0.0, 0.0, -1.0])
            placed[int(c)] = placed[int(p)] + lengths[i] * dirs[:, i]
        else:
            dirs[:, i] = vec
            placed[int(c)] = Xi[:, c]
    return Xi[:, root].copy(), dirs


def _tangent_basis(u):  # torch [..., 3] unit vectors -> [..., 3, 2]
    """Two orthonormal vectors perpendicular to each unit vector (torch)."""
    import torch

    helper = torch.zeros_like(u)
    z_like = u[..., 2].abs() < 0.9
    helper[..., 2] = z_like.to(u.dtype)
    helper[..., 0] = (~z_like).to(u.dtype)
    t1 = torch.linalg.cross(u, helper)
    t1 = t1 / t1.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    return torch.stack([t1, torch.linalg.cross(u, t1)], -1)


def _pose(X: np.ndarray, H: np.ndarray, valid: np.ndarray, root: int, bones: np.ndarray,
          lengths: np.ndarray, robust_px: float, iterations: int,
          tolerance: float = 1e-3) -> np.ndarray:
    """Levenberg-Marquardt, frames batched, over the root position and each bone's
    direction (2 tangent parameters per bone; iteratively reweighted for the Cauchy loss);
    a frame stops when a step changes its cost by less than ``tolerance`` of it. Bones of
    unknown length keep each frame's own length. Returns Y [F, J, 3] (joints outside the
    tree keep X).

    The normal equations use the tree: joint j moves with bone b only when b is on its
    path, so block (b, c) = M_b^T S_c M_c for b on c's path (S_c = the summed weighted
    information of the joints below c), zero otherwise; no dense Jacobian is formed."""
    import torch

    F, J, _ = X.shape
    B = len(bones)
    A = _ancestors(root, bones, J)  # [J, B]
    on_path = np.array([[A[int(bones[c, 1]), b] for c in range(B)] for b in range(B)])
    pb, pc = (torch.from_numpy(i) for i in np.nonzero(on_path))  # b on c's path (or b == c)
    root_np, d_np = _start(X, valid, root, bones, lengths)
    known = np.isfinite(lengths)
    nd = np.linalg.norm(d_np, axis=-1, keepdims=True)  # unknown lengths: the start's own
    L_np = np.where(known[None], lengths[None], nd[..., 0])  # [F, B]
    L_np = np.where(L_np > 1e-6, L_np, 0.1)
    d_np = np.where(nd > 1e-9, d_np / np.maximum(nd, 1e-12), [0.0, 0.0, -1.0])
    outside = ~A.any(1)
    outside[root] = False

    def T(x: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float64))

    At = T(A)
    Xz, Ht, vw, Lt = T(np.nan_to_num(X)), T(H), T(valid), T(L_np)
    root_p, d = T(root_np), T(d_np)
    c2 = robust_px ** 2
    P = 3 + 2 * B

    def evaluate(rp, dd, rows):
        Y = rp[:, None] + torch.einsum("jb,fbd->fjd", At, dd * Lt[rows, :, None])
        if outside.any():
            Y[:, outside] = Xz[rows][:, outside]
        e = Y - Xz[rows]
        s = torch.einsum("fji,fjik,fjk->fj", e, Ht[rows], e)
        return Y, e, (c2 * torch.log1p(s / c2) * vw[rows]).sum(1)

    Y, e, cost = evaluate(root_p, d, slice(None))
    mu = torch.full((F,), 1e-3, dtype=torch.float64)
    act = torch.nonzero(vw.any(1)).flatten()  # frames still being improved
    eye = torch.eye(P, dtype=torch.float64)
    for _ in range(iterations):
        n = act.numel()
        if n == 0:
            break
        da, ea, Ha = d[act], e[act], Ht[act]
        s = torch.einsum("fji,fjik,fjk->fj", ea, Ha, ea)
        WH = (vw[act] / (1.0 + s / c2))[..., None, None] * Ha  # IRLS weights x information
        Tb = _tangent_basis(da)  # [n, B, 3, 2]
        M = Lt[act, :, None, None] * Tb  # [n, B, 3, 2] joint motion per parameter
        Sb = torch.einsum("jb,fjik->fbik", At, WH)  # [n, B, 3, 3] information below b
        He = torch.einsum("fjik,fjk->fji", WH, ea)  # [n, J, 3]
        N = torch.zeros((n, P, P), dtype=torch.float64)
        N[:, :3, :3] = WH.sum(1)
        N[:, :3, 3:] = (Sb @ M).permute(0, 2, 1, 3).reshape(n, 3, 2 * B)
        N[:, 3:, :3] = N[:, :3, 3:].transpose(1, 2)
        blk = M[:, pb].transpose(-1, -2) @ Sb[:, pc] @ M[:, pc]  # [n, pairs, 2, 2]
        Nbb = torch.zeros((n, B, B, 2, 2), dtype=torch.float64)
        Nbb[:, pb, pc] = blk
        Nbb[:, pc, pb] = blk.transpose(-1, -2)
        N[:, 3:, 3:] = Nbb.permute(0, 1, 3, 2, 4).reshape(n, 2 * B, 2 * B)
        g = torch.cat([He.sum(1), torch.einsum(
            "fbki,fbk->fbi", M, torch.einsum("jb,fjk->fbk", At, He)).reshape(n, 2 * B)], 1)
        diag = torch.diagonal(N, dim1=-2, dim2=-1)
        # damping relative to each parameter's curvature, with a floor for parameters that
        # nothing constrains (bones above invalid joints only)
        floor = 1e-12 * diag.amax(1, keepdim=True).clamp_min(1e-12)
        N = N + (mu[act][:, None] * torch.maximum(diag, floor) + floor)[..., None] * eye
        delta = -torch.from_numpy(_solve(N.numpy(), g.numpy()))
        rp_new = root_p[act] + delta[:, :3]
        d_new = da + (Tb @ delta[:, 3:].reshape(n, B, 2, 1))[..., 0]
        d_new = d_new / d_new.norm(dim=-1, keepdim=True).clamp_min(1e-12)
        Y_new, e_new, cost_new = evaluate(rp_new, d_new, act)
        better = cost_new <= cost[act]
        acc = act[better]
        root_p[acc], d[acc], Y[acc], e[acc] = (rp_new[better], d_new[better], Y_new[better],
                                               e_new[better])
        change = (cost[act] - cost_new).abs()  # a step that changes nothing: converged
        cost[acc] = cost_new[better]
        mu[act] = torch.where(better, mu[act] / 3, mu[act] * 4).clamp(1e-9, 1e6)
        done = (change <= tolerance * cost[act].clamp_min(1e-12)) | (mu[act] >= 1e6)
        act = act[~done]
    return Y.numpy()


def _supported_frames(valid: np.ndarray, n_views: np.ndarray, bones: np.ndarray,
                      limit: int) -> np.ndarray:
    """Indices of the frames best suited to estimate lengths: the most tree joints seen by
    >= 3 views (then >= 2), at most ``limit``, spread over the take."""
    tree_joints = np.unique(bones)
    score = ((n_views[:, tree_joints] >= 3) & valid[:, tree_joints]).sum(1) * 100 + \
        valid[:, tree_joints].sum(1)
    order = np.argsort(-score, kind="stable")
    keep = order[:limit]
    return np.sort(keep[score[keep] > 0])


def estimate_skeleton(
    X: np.ndarray,  # [F, J, 3] metres, the free per-frame fit (NaN where invalid)
    valid: np.ndarray,  # [F, J] bool
    n_views: np.ndarray,  # [F, J] views supporting each joint
    joint_set: JointSet,
    max_frames: int = LENGTH_FRAMES,
    min_samples: int = 5,
    information: np.ndarray | None = None,  # [F, J, 3, 3] px^2 / m^2 (joint_information)
    noise_px2: float | None = None,  # variance of a confidence-1 detection (px^2)
) -> Skeleton:
    """One set of bone lengths for the take (see the module docstring).

    A bone is estimated when at least ``min_samples`` of the chosen frames see both its
    ends; otherwise its length is NaN (unconstrained). With ``information`` and
    ``noise_px2`` each sampled length is corrected for the error of its two ends first
    (:func:`_unbiased_squared_lengths`)."""
    _, bones = bone_tree(joint_set)
    names = [f"{joint_set.joints[a]}-{joint_set.joints[b]}" for a, b in bones]
    valid = np.asarray(valid, bool) & np.isfinite(X).all(-1)
    frames = _supported_frames(valid, n_views, bones, max_frames)
    Xs, vs, ns = X[frames], valid[frames], n_views[frames]
    lengths = bone_lengths(Xs, bones)  # [f, B]
    corrected = information is not None and noise_px2 is not None and noise_px2 > 0
    if corrected:
        lengths = np.sqrt(_unbiased_squared_lengths(Xs, information[frames], vs, bones,
                                                    noise_px2))
    both = vs[:, bones[:, 0]] & vs[:, bones[:, 1]]
    strong = both & (ns[:, bones[:, 0]] >= 3) & (ns[:, bones[:, 1]] >= 3)
    # per bone: frames where both ends are seen by >= 3 views, else by >= 2
    use = np.where(strong.sum(0) >= min_samples, strong, both)
    med, spread = robust_lengths(lengths, use, min_samples)
    method = (f"median over the {len(frames)} best-supported frames of the free fit's "
              f"bone lengths, each bone from the frames where both ends are seen by >= 3 "
              f"views ({int(strong.sum(0).min())}-{int(strong.sum(0).max())} frames per bone)"
              + (f"; each length corrected for its ends' error (detection noise "
                 f"{np.sqrt(noise_px2):.1f} px)" if corrected else ""))
    return Skeleton(joint_set.name, bones, names, med, method, len(frames),
                    spread,
                    float(np.sqrt(noise_px2)) if corrected else float("nan"))


def _unbiased_squared_lengths(
    X: np.ndarray,  # [f, J, 3] metres
    H: np.ndarray,  # [f, J, 3, 3] px^2 / m^2
    valid: np.ndarray,  # [f, J]
    bones: np.ndarray,  # [B, 2]
    noise_px2: float,
) -> np.ndarray:  # [f, B] m^2
    """Squared bone lengths less the part that the error of their ends adds.

    An end's error ``n`` (covariance ``noise_px2 * H^-1``) lengthens a bone on average:
    ``E|d + n|^2 = |d|^2 + tr(S)`` for the summed covariance ``S`` of both ends; only the
    part across the bone changes the length to first order, so ``tr(S) - u^T S u`` is
    removed (``u`` the bone's direction), at most ``MAX_LENGTH_SHRINK`` of the length."""
    eps = information_floor(H, valid)
    d = X[:, bones[:, 1]] - X[:, bones[:, 0]]  # [f, B, 3]
    l2 = (d ** 2).sum(-1)
    u = d / np.sqrt(np.maximum(l2, 1e-12))[..., None]
    cov = noise_px2 * np.linalg.inv(np.nan_to_num(H) + eps * np.eye(3))  # [f, J, 3, 3] m^2
    S = cov[:, bones[:, 1]] + cov[:, bones[:, 0]]
    across = np.trace(S, axis1=-2, axis2=-1) - np.einsum("fbi,fbij,fbj->fb", u, S, u)
    return np.maximum(l2 - across, (1.0 - MAX_LENGTH_SHRINK) ** 2 * l2)


def detection_noise_px2(
    squared_residuals: np.ndarray,  # [F, J] sum over views of weight x residual^2 (px^2)
    n_views: np.ndarray,  # [F, J] views used
) -> float:  # px^2, NaN when no joint is seen by >= 2 views
    """Variance of one detection at confidence 1, from the free fit's residuals.

    A joint seen by ``n`` views leaves ``2n - 3`` degrees of freedom in its residuals; the
    median over joints of ``sum_v w r^2 / median(chi2(2n - 3))`` is robust to the joints
    with a gross error left in."""
    from scipy.stats import chi2

    ok = (n_views >= 2) & np.isfinite(squared_residuals)
    if not ok.any():
        return float("nan")
    q = squared_residuals[ok] / chi2.ppf(0.5, 2 * n_views[ok] - 3)
    return float(np.median(q))


def pose_under_skeleton(
    X: np.ndarray,  # [F, J, 3] metres
    H: np.ndarray,  # [F, J, 3, 3]
    valid: np.ndarray,  # [F, J] bool
    skeleton: Skeleton,
    joint_set: JointSet,
    robust_px: float = ROBUST_PX,
    iterations: int = 30,
    block: int = 256,
    tick: Callable[[], None] | None = None,
) -> np.ndarray:  # [F, J, 3] metres, NaN where ``valid`` is False
    """Every frame posed with the skeleton's fixed bone lengths (blocks of ``block``
    frames; ``tick()`` after each, for progress and cancelling). Joints invalid in ``X``
    stay NaN; bones with an unknown length are free."""
    root, bones = bone_tree(joint_set)
    valid = np.asarray(valid, bool) & np.isfinite(X).all(-1)
    out = np.full(X.shape, np.nan)
    if not valid.any():
        return out
    import torch

    eps = information_floor(H, valid)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small batched matrices: threading costs more than it gives
    try:
        _pose_blocks(X, H, eps, valid, root, bones, skeleton.lengths_m, robust_px, iterations,
                     block, tick, out)
    finally:
        torch.set_num_threads(threads)
    return out


def _pose_blocks(X: np.ndarray, H: np.ndarray, eps: float, valid: np.ndarray, root: int,
                 bones: np.ndarray, lengths: np.ndarray, robust_px: float, iterations: int,
                 block: int, tick: Callable[[], None] | None, out: np.ndarray) -> None:
    for s in range(0, X.shape[0], block):
        e = min(X.shape[0], s + block)
        if not valid[s:e].any():
            continue
        Y = _pose(X[s:e], H[s:e] + eps * np.eye(3), valid[s:e], root, bones, lengths,
                  robust_px, iterations)
        out[s:e] = np.where(valid[s:e, :, None], Y, np.nan)
        if tick is not None:
            tick()
