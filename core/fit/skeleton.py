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

The lengths ``L`` are estimated once per take by the same objective with ``L`` free and
shared by all frames, on the best-supported frames (most joints seen by >= 3 views),
started from the median bone lengths of those frames and alternating poses and lengths
(the lengths are linear least squares given the bone directions; :func:`estimate_skeleton`).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ..skeletons import JointSet

#: Frames used for the whole-take length estimate (the best supported ones).
LENGTH_FRAMES = 200
#: Cauchy scale of the posing loss (px, on the summed squared reprojection over views).
ROBUST_PX = 12.0
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
    """

    joint_set: str
    bones: np.ndarray
    bone_names: list[str]
    lengths_m: np.ndarray
    method: str
    frames_used: int = 0
    spread_m: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def as_dict(self) -> dict:
        return {"joint_set": self.joint_set, "bone_names": list(self.bone_names),
                "lengths_m": [float(x) for x in self.lengths_m], "method": self.method,
                "frames_used": int(self.frames_used),
                "spread_m": [float(x) for x in self.spread_m]}


def bone_tree(joint_set: JointSet) -> tuple[int, np.ndarray]:
    """Root joint and the bones as (parent, child) pairs in breadth-first order from it.

    The root is ``mid_hip`` / ``pelvis`` when present (else joint 0). Bones closing a loop
    are left out (the result is a spanning tree of the bone graph); joints without bones
    have no entry.
    """
    names = list(joint_set.joints)
    root = next((names.index(n) for n in ("mid_hip", "pelvis", "hip") if n in names), 0)
    adj: dict[int, list[int]] = {j: [] for j in range(joint_set.n)}
    for a, b in joint_set.bone_indices:
        adj[int(a)].append(int(b))
        adj[int(b)].append(int(a))
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
) -> np.ndarray:  # [F, J, 3, 3] px^2 / m^2
    """Information of every joint from the views that support it (pinhole Jacobians)."""
    X = np.nan_to_num(np.asarray(X, dtype=float))
    R, t = world_to_cam[:, :3, :3], world_to_cam[:, :3, 3]
    H = np.zeros((*X.shape[:2], 3, 3))
    for v in range(len(K)):
        w = weights[..., v]
        if not (w > 0).any():
            continue
        pc = X @ R[v].T + t[v]  # [F, J, 3]
        z = np.where(np.abs(pc[..., 2]) > 1e-6, pc[..., 2], 1e-6)
        fx, fy = K[v, 0, 0], K[v, 1, 1]
        Jc = np.zeros((*X.shape[:2], 2, 3))
        Jc[..., 0, 0] = fx / z
        Jc[..., 0, 2] = -fx * pc[..., 0] / z ** 2
        Jc[..., 1, 1] = fy / z
        Jc[..., 1, 2] = -fy * pc[..., 1] / z ** 2
        Jw = Jc @ R[v]  # [F, J, 2, 3]
        H += np.where((w > 0) & (pc[..., 2] > 0), w, 0.0)[..., None, None] * \
            np.einsum("fjki,fjkl->fjil", Jw, Jw)
    return H


def _floor(H: np.ndarray, valid: np.ndarray) -> np.ndarray:
    tr = np.trace(H, axis1=-2, axis2=-1)[valid]
    eps = INFO_FLOOR * (float(np.median(tr)) if tr.size and np.median(tr) > 0 else 1.0)
    return H + eps * np.eye(3)


def _normal_equations(WH: np.ndarray, M: np.ndarray, A: np.ndarray, e: np.ndarray
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Newton normal matrix [F, P, P] and gradient [F, P] (P = 3 + 3B) from the
    weighted information WH [F, J, 3, 3], per-bone Jacobians M [F, B, 3, 3] (joint w.r.t.
    bone parameters, for the joints below the bone: A [J, B]) and residuals e [F, J, 3]."""
    import torch

    F, J = WH.shape[:2]
    B = M.shape[1]
    Mt = torch.from_numpy(M)
    Jb = torch.from_numpy(A)[None, :, :, None, None] * Mt[:, None]  # [F, J, B, 3, 3]
    eye = torch.eye(3, dtype=Mt.dtype).expand(F, J, 3, 3)
    Jac = torch.cat([eye, Jb.permute(0, 1, 3, 2, 4).reshape(F, J, 3, 3 * B)], -1)
    WJ = (torch.from_numpy(WH) @ Jac).reshape(F, 3 * J, -1)  # [F, 3J, P]
    N = Jac.reshape(F, 3 * J, -1).transpose(1, 2) @ WJ
    g = (WJ.transpose(1, 2) @ torch.from_numpy(e).reshape(F, 3 * J, 1))[..., 0]
    return N.numpy(), g.numpy()


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


def _start(X: np.ndarray, valid: np.ndarray, root: int, bones: np.ndarray
           ) -> tuple[np.ndarray, np.ndarray]:
    """Initial root [F, 3] and bone vectors [F, B, 3] from the free fit (invalid joints at
    their frame's centre)."""
    Xf = np.where(valid[..., None], X, np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        centre = np.nanmean(Xf, axis=1)  # [F, 3]
    centre = np.where(np.isfinite(centre), centre, 0.0)
    Xi = np.where(valid[..., None], X, centre[:, None])
    return Xi[:, root].copy(), Xi[:, bones[:, 1]] - Xi[:, bones[:, 0]]


def _forward(root_p: np.ndarray, step: np.ndarray, A: np.ndarray, root: int,
             X: np.ndarray) -> np.ndarray:
    """Joints [F, J, 3] = root + sum of the bone steps [F, B, 3] on each joint's path;
    joints outside the tree keep X."""
    Y = root_p[:, None] + np.einsum("jb,fbd->fjd", A.astype(float), step)
    outside = ~A.any(1)
    outside[root] = False
    Y[:, outside] = X[:, outside]
    return Y


def _pose(X: np.ndarray, H: np.ndarray, valid: np.ndarray, root: int, bones: np.ndarray,
          lengths: np.ndarray, robust_px: float, iterations: int,
          start: tuple[np.ndarray, np.ndarray] | None = None
          ) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:
    """Levenberg-Marquardt, frame by frame (batched), over the root position and one
    direction per bone (iteratively reweighted for the Cauchy loss). Returns Y [F, J, 3] and
    the final (root [F, 3], unit directions / free offsets [F, B, 3])."""
    F, J, _ = X.shape
    B = len(bones)
    A = _ancestors(root, bones, J)
    known = np.isfinite(lengths)
    L = np.where(known, lengths, 1.0)
    root_p, vec = start if start is not None else _start(X, valid, root, bones)
    nrm = np.linalg.norm(vec, axis=-1, keepdims=True)
    d = np.where(known[None, :, None], np.where(nrm > 1e-9, vec / np.maximum(nrm, 1e-12),
                                                [0.0, 0.0, -1.0]), vec)
    Xz = np.nan_to_num(X)
    vw = valid.astype(float)
    c2 = robust_px ** 2
    P = 3 + 3 * B
    Af = A.astype(float)
    mu = np.full(F, 1e-3)
    eye3 = np.eye(3)

    def evaluate(rp: np.ndarray, dd: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        step = np.where(known[None, :, None], dd * L[None, :, None], dd)
        Y = _forward(rp, step, A, root, Xz)
        e = Y - Xz
        s = np.einsum("fji,fjik,fjk->fj", e, H, e)
        cost = (c2 * np.log1p(s / c2) * vw).sum(1)
        return Y, e, cost

    Y, e, cost = evaluate(root_p, d)
    for _ in range(iterations):
        s = np.einsum("fji,fjik,fjk->fj", e, H, e)
        w = vw / (1.0 + s / c2)  # [F, J] IRLS weights of the Cauchy loss
        # Jacobian of every joint w.r.t. each bone's parameters: [F, B, 3, 3]
        M = np.where(known[None, :, None, None],
                     L[None, :, None, None] * (eye3 - d[..., :, None] * d[..., None, :]),
                     eye3)
        N, g = _normal_equations(w[..., None, None] * H, M, Af, e)
        diag = np.maximum(np.einsum("fii->fi", N), 1e-12)
        Nd = N + (mu[:, None] * diag)[..., None] * np.eye(P)
        delta = -_solve(Nd, g)
        rp_new = root_p + delta[:, :3]
        d_new = d + delta[:, 3:].reshape(F, B, 3)
        nn = np.linalg.norm(d_new, axis=-1, keepdims=True)
        d_new = np.where(known[None, :, None], d_new / np.maximum(nn, 1e-12), d_new)
        Y_new, e_new, cost_new = evaluate(rp_new, d_new)
        better = cost_new <= cost
        root_p = np.where(better[:, None], rp_new, root_p)
        d = np.where(better[:, None, None], d_new, d)
        Y = np.where(better[:, None, None], Y_new, Y)
        e = np.where(better[:, None, None], e_new, e)
        gain = cost - np.where(better, cost_new, cost)
        cost = np.where(better, cost_new, cost)
        mu = np.clip(np.where(better, mu / 3, mu * 4), 1e-9, 1e6)
        if (gain <= 1e-9 * np.maximum(cost, 1e-12)).all() and better.all():
            break
    return Y, (root_p, d)


def _refit_lengths(X: np.ndarray, H: np.ndarray, valid: np.ndarray, root: int,
                   bones: np.ndarray, lengths: np.ndarray, dirs: np.ndarray,
                   robust_px: float) -> np.ndarray:
    """Lengths [B] minimising the (Cauchy-reweighted) objective over all frames with the
    bone directions [F, B, 3] held: linear least squares in the lengths and each frame's
    root (the roots eliminated frame by frame)."""
    J = X.shape[1]
    A = _ancestors(root, bones, J).astype(float)
    known = np.isfinite(lengths)
    kb = np.flatnonzero(known)
    Xz = np.nan_to_num(X)
    free_step = np.where(known[None, :, None], 0.0, dirs)  # unknown lengths: offsets as is
    base = np.einsum("jb,fbd->fjd", A, free_step)  # [F, J, 3]
    G = A[None, :, kb, None] * dirs[:, None, kb, :]  # [F, J, Bk, 3] dY_j / dL_b
    Ycur = np.einsum("fjbd,b->fjd", G, lengths[kb]) + base
    e0 = Ycur - Xz
    s = np.einsum("fji,fjik,fjk->fj", e0, H, e0)
    w = valid / (1.0 + s / robust_px ** 2)
    WH = w[..., None, None] * H
    S = WH.sum(1) + 1e-12 * np.eye(3)  # [F, 3, 3]
    C = np.einsum("fjik,fjbk->fib", WH, G)  # [F, 3, Bk]
    D = np.einsum("fjbi,fjik,fjck->fbc", G, WH, G)  # [F, Bk, Bk]
    r = Xz - base
    b_root = np.einsum("fjik,fjk->fi", WH, r)
    b_len = np.einsum("fjbi,fjik,fjk->fb", G, WH, r)
    Sinv_C = np.linalg.solve(S, C)
    Sinv_b = np.linalg.solve(S, b_root[..., None])[..., 0]
    lhs = (D - np.einsum("fib,fic->fbc", C, Sinv_C)).sum(0)
    rhs = (b_len - np.einsum("fib,fi->fb", C, Sinv_b)).sum(0)
    out = lengths.copy()
    try:
        sol = np.linalg.solve(lhs + 1e-9 * np.eye(len(kb)) * np.trace(lhs) / len(kb), rhs)
    except np.linalg.LinAlgError:
        return out
    ok = np.isfinite(sol) & (sol > 0.2 * lengths[kb]) & (sol < 5 * lengths[kb])
    out[kb[ok]] = sol[ok]
    return out


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
    H: np.ndarray,  # [F, J, 3, 3] information (:func:`joint_information`)
    valid: np.ndarray,  # [F, J] bool
    n_views: np.ndarray,  # [F, J] views supporting each joint
    joint_set: JointSet,
    max_frames: int = LENGTH_FRAMES,
    robust_px: float = ROBUST_PX,
    iterations: int = 6,
    rounds: int = 3,
    tick: Callable[[], None] | None = None,
) -> Skeleton:
    """One set of bone lengths for the take (see the module docstring).

    A bone is estimated when at least 3 of the chosen frames see both its ends; otherwise
    its length is NaN (unconstrained)."""
    root, bones = bone_tree(joint_set)
    names = [f"{joint_set.joints[a]}-{joint_set.joints[b]}" for a, b in bones]
    valid = np.asarray(valid, bool) & np.isfinite(X).all(-1)
    frames = _supported_frames(valid, n_views, bones, max_frames)
    Xs, vs = X[frames], valid[frames]
    both = vs[:, bones[:, 0]] & vs[:, bones[:, 1]]  # [f, B]
    lengths = np.linalg.norm(Xs[:, bones[:, 1]] - Xs[:, bones[:, 0]], axis=-1)
    lengths = np.where(both, lengths, np.nan)
    enough = both.sum(0) >= 3
    with warnings.catch_warnings():  # bones never seen: all-NaN columns
        warnings.simplefilter("ignore", RuntimeWarning)
        med = np.where(enough, np.nanmedian(np.where(enough, lengths, 0.0), 0), np.nan)
        spread = 1.4826 * np.nanmedian(np.abs(lengths - med), 0)
    method = "median of the free fit's bone lengths"
    if enough.any() and len(frames) >= 3:
        Hs = _floor(H[frames], vs)
        start = None
        for _ in range(rounds):  # alternate: pose under the lengths, lengths under the poses
            _, start = _pose(Xs, Hs, vs, root, bones, med, robust_px, iterations, start)
            med = _refit_lengths(Xs, Hs, vs, root, bones, med, start[1], robust_px)
            if tick is not None:
                tick()
        method = (f"whole-take robust least squares (Cauchy {robust_px:g} px, linearised "
                  f"reprojection) on the {len(frames)} best-supported frames, alternating "
                  f"poses and lengths {rounds} times from their median bone lengths")
    return Skeleton(joint_set.name, bones, names, med, method, len(frames),
                    np.where(enough, spread, np.nan))


def pose_under_skeleton(
    X: np.ndarray,  # [F, J, 3] metres
    H: np.ndarray,  # [F, J, 3, 3]
    valid: np.ndarray,  # [F, J] bool
    skeleton: Skeleton,
    joint_set: JointSet,
    robust_px: float = ROBUST_PX,
    iterations: int = 6,
    block: int = 128,
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
    Hf = _floor(H, valid)
    for s in range(0, X.shape[0], block):
        e = min(X.shape[0], s + block)
        if not valid[s:e].any():
            continue
        Y, _ = _pose(X[s:e], Hf[s:e], valid[s:e], root, bones, skeleton.lengths_m,
                     robust_px, iterations)
        out[s:e] = np.where(valid[s:e, :, None], Y, np.nan)
        if tick is not None:
            tick()
    return out
