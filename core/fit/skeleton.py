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
ends are seen by >= 3 views (:func:`estimate_skeleton`). (A whole-take least-squares
refinement of the lengths, alternating with the poses, moved them by < 1 mm on clean takes
and by > 10 cm on heavily corrupted ones: the median is what we ship.)
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
ROBUST_PX = 20.0
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
          tolerance: float = 1e-4) -> np.ndarray:
    """Levenberg-Marquardt, frame by frame (batched), over the root position and one
    direction per bone (iteratively reweighted for the Cauchy loss); a frame stops when a
    step gains less than ``tolerance`` of its cost. Returns Y [F, J, 3] (joints outside the
    tree keep X)."""
    F, J, _ = X.shape
    B = len(bones)
    A = _ancestors(root, bones, J)
    known = np.isfinite(lengths)
    L = np.where(known, lengths, 1.0)
    root_p, d = _start(X, valid, root, bones, lengths)
    Xz = np.nan_to_num(X)
    vw = valid.astype(float)
    c2 = robust_px ** 2
    P = 3 + 3 * B
    Af = A.astype(float)
    mu = np.full(F, 1e-3)
    eye3 = np.eye(3)

    idx = 3 + 3 * np.arange(B)[:, None] + np.arange(3)  # [B, 3] bone parameter columns

    def evaluate(rp: np.ndarray, dd: np.ndarray, rows: np.ndarray | slice
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        step = np.where(known[None, :, None], dd * L[None, :, None], dd)
        Y = _forward(rp, step, A, root, Xz[rows])
        e = Y - Xz[rows]
        s = np.einsum("fji,fjik,fjk->fj", e, H[rows], e)
        cost = (c2 * np.log1p(s / c2) * vw[rows]).sum(1)
        return Y, e, cost

    Y, e, cost = evaluate(root_p, d, slice(None))
    act = np.flatnonzero(valid.any(1))  # frames still being improved
    for _ in range(iterations):
        if act.size == 0:
            break
        n = act.size
        da, ea = d[act], e[act]
        s = np.einsum("fji,fjik,fjk->fj", ea, H[act], ea)
        w = vw[act] / (1.0 + s / c2)  # [n, J] IRLS weights of the Cauchy loss
        # Jacobian of every joint w.r.t. each bone's parameters: [n, B, 3, 3]
        M = np.where(known[None, :, None, None],
                     L[None, :, None, None] * (eye3 - da[..., :, None] * da[..., None, :]),
                     eye3)
        N, g = _normal_equations(w[..., None, None] * H[act], M, Af, ea)
        # gauge: a step along a unit direction itself does nothing (it is normalised away);
        # pin it so that the solve stays well conditioned and the step stays tangent
        blocks = N[:, 3:, 3:].reshape(n, B, 3, B, 3)[:, np.arange(B), :, np.arange(B), :]
        scale = np.maximum(np.einsum("bfii->fb", blocks), 1e-9)  # [n, B]
        gauge = scale[..., None, None] * da[..., :, None] * da[..., None, :]
        gauge *= known[None, :, None, None]
        N[:, idx[:, :, None], idx[:, None, :]] += gauge
        diag = np.maximum(np.einsum("fii->fi", N), 1e-12)
        Nd = N + (mu[act, None] * diag)[..., None] * np.eye(P)
        delta = -_solve(Nd, g)
        rp_new = root_p[act] + delta[:, :3]
        d_new = da + delta[:, 3:].reshape(n, B, 3)
        nn = np.linalg.norm(d_new, axis=-1, keepdims=True)
        d_new = np.where(known[None, :, None], d_new / np.maximum(nn, 1e-12), d_new)
        Y_new, e_new, cost_new = evaluate(rp_new, d_new, act)
        better = cost_new <= cost[act]
        acc = act[better]
        root_p[acc], d[acc], Y[acc], e[acc] = (rp_new[better], d_new[better], Y_new[better],
                                               e_new[better])
        gain = np.where(better, cost[act] - cost_new, 0.0)
        cost[acc] = cost_new[better]
        mu[act] = np.clip(np.where(better, mu[act] / 3, mu[act] * 4), 1e-9, 1e6)
        done = (better & (gain <= tolerance * np.maximum(cost[act], 1e-12))) | \
            (mu[act] >= 1e6)
        act = act[~done]
    return Y


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
) -> Skeleton:
    """One set of bone lengths for the take (see the module docstring).

    A bone is estimated when at least ``min_samples`` of the chosen frames see both its
    ends; otherwise its length is NaN (unconstrained)."""
    _, bones = bone_tree(joint_set)
    names = [f"{joint_set.joints[a]}-{joint_set.joints[b]}" for a, b in bones]
    valid = np.asarray(valid, bool) & np.isfinite(X).all(-1)
    frames = _supported_frames(valid, n_views, bones, max_frames)
    Xs, vs, ns = X[frames], valid[frames], n_views[frames]
    lengths = np.linalg.norm(Xs[:, bones[:, 1]] - Xs[:, bones[:, 0]], axis=-1)  # [f, B]
    both = vs[:, bones[:, 0]] & vs[:, bones[:, 1]]
    strong = both & (ns[:, bones[:, 0]] >= 3) & (ns[:, bones[:, 1]] >= 3)
    # per bone: frames where both ends are seen by >= 3 views, else by >= 2
    use = np.where(strong.sum(0) >= min_samples, strong, both)
    enough = use.sum(0) >= min_samples
    with warnings.catch_warnings():  # bones never seen: all-NaN columns
        warnings.simplefilter("ignore", RuntimeWarning)
        sample = np.where(use, lengths, np.nan)
        med = np.where(enough, np.nanmedian(sample, 0), np.nan)
        spread = 1.4826 * np.nanmedian(np.abs(sample - med), 0)
    method = (f"median over the {len(frames)} best-supported frames of the free fit's "
              f"bone lengths, each bone from the frames where both ends are seen by >= 3 "
              f"views ({int(strong.sum(0).min())}-{int(strong.sum(0).max())} frames per bone)")
    return Skeleton(joint_set.name, bones, names, med, method, len(frames),
                    np.where(enough, spread, np.nan))


def pose_under_skeleton(
    X: np.ndarray,  # [F, J, 3] metres
    H: np.ndarray,  # [F, J, 3, 3]
    valid: np.ndarray,  # [F, J] bool
    skeleton: Skeleton,
    joint_set: JointSet,
    robust_px: float = ROBUST_PX,
    iterations: int = 30,
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
        Y = _pose(X[s:e], Hf[s:e], valid[s:e], root, bones, skeleton.lengths_m,
                     robust_px, iterations)
        out[s:e] = np.where(valid[s:e, :, None], Y, np.nan)
        if tick is not None:
            tick()
    return out
