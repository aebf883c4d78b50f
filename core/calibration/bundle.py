"""Bundle adjustment of cameras against observed 3D structure (scipy least squares).

Two kinds of structure share one solver (:func:`adjust`):

- a rigid board: board poses [P, 6] (Rodrigues rotation, translation; board -> world)
  times the board's corner layout [C, 3];
- free points [P, 3] (an actor's joints, one per joint-frame).

Unknowns: per camera the world -> camera pose (rvec, t) and optionally the intrinsics
(fx, fy, cx, cy and distortion), plus the structure. Residuals are distorted-pixel
reprojection errors of every observation; the loss is robust (``soft_l1`` with a scale of
``f_scale_px``) so a wrong detection bends the solution little. The Jacobian is found by
finite differences with its sparsity pattern given, so each evaluation costs a few dozen
residual passes whatever the problem size.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.sparse import coo_matrix

from ..camera import Camera, rodrigues_from_rotation, rotation_from_rodrigues


def rodrigues_batch(r: np.ndarray) -> np.ndarray:  # [M, 3] -> [M, 3, 3]
    """Axis-angle vectors [M, 3] (radians) -> rotation matrices [M, 3, 3]."""
    r = np.asarray(r, dtype=float).reshape(-1, 3)
    theta = np.linalg.norm(r, axis=-1)                                   # [M]
    small = theta < 1e-12
    k = r / np.where(small, 1.0, theta)[:, None]
    kx = np.zeros((len(r), 3, 3))
    kx[:, 0, 1], kx[:, 0, 2] = -k[:, 2], k[:, 1]
    kx[:, 1, 0], kx[:, 1, 2] = k[:, 2], -k[:, 0]
    kx[:, 2, 0], kx[:, 2, 1] = -k[:, 1], k[:, 0]
    s, c = np.sin(theta)[:, None, None], np.cos(theta)[:, None, None]
    R = np.eye(3) + s * kx + (1 - c) * (kx @ kx)
    # first order for tiny angles: I + [r]x
    R[small] = np.eye(3) + _skew(r[small])
    return R


def _skew(r: np.ndarray) -> np.ndarray:
    out = np.zeros((len(r), 3, 3))
    out[:, 0, 1], out[:, 0, 2] = -r[:, 2], r[:, 1]
    out[:, 1, 0], out[:, 1, 2] = r[:, 2], -r[:, 0]
    out[:, 2, 0], out[:, 2, 1] = -r[:, 1], r[:, 0]
    return out


def project_cam(
    xc: np.ndarray,     # [N, 3] camera-frame points
    intr: np.ndarray,   # [N, 4 + D] fx, fy, cx, cy, distortion
    model: str,
) -> np.ndarray:        # [N, 2] distorted pixels
    """Camera-frame points -> distorted pixels (the :class:`Camera` model, vectorised)."""
    z = np.maximum(xc[:, 2], 1e-6)
    x, y = xc[:, 0] / z, xc[:, 1] / z
    d = intr[:, 4:]
    if model == "fisheye":
        r = np.hypot(x, y)
        th = np.arctan(r)
        t2 = th * th
        thd = th * (1 + t2 * (d[:, 0] + t2 * (d[:, 1] + t2 * (d[:, 2] + t2 * d[:, 3]))))
        s = np.where(r > 1e-12, thd / np.maximum(r, 1e-12), 1.0)
        xd, yd = x * s, y * s
    else:
        k1, k2, p1, p2, k3 = d.T
        r2 = x * x + y * y
        rad = 1 + r2 * (k1 + r2 * (k2 + r2 * k3))
        xd = x * rad + 2 * p1 * x * y + p2 * (r2 + 2 * x * x)
        yd = y * rad + p1 * (r2 + 2 * y * y) + 2 * p2 * x * y
    return np.stack([intr[:, 0] * xd + intr[:, 2], intr[:, 1] * yd + intr[:, 3]], -1)


@dataclass
class Observations:
    """2D observations of the structure.

    Attributes:
        cam: [N] int camera index.  point: [N] int structure index (board pose or 3D point).
        corner: [N] int board corner id (board structure only; else unused).
        uv: [N, 2] distorted pixels.
        weight: [N] residual weights (1 = a full observation).
    """

    cam: np.ndarray
    point: np.ndarray
    uv: np.ndarray
    corner: np.ndarray | None = None
    weight: np.ndarray | None = None


@dataclass
class BundleResult:
    """Adjusted cameras and structure.

    Attributes:
        cameras: adjusted cameras (same names, sizes and models as given).
        structure: [P, 6] board poses (rvec, t; board -> world) or [P, 3] points.
        residuals_px: [N, 2] final reprojection residuals (px, unweighted).
        rms_initial_px: RMS reprojection error before adjusting (px).
        cost_final: the robust cost at the solution.
        n_iterations: function evaluations used.
    """

    cameras: list[Camera]
    structure: np.ndarray
    residuals_px: np.ndarray
    rms_initial_px: float
    cost_final: float
    n_iterations: int

    def camera_rms(self, obs: Observations) -> np.ndarray:  # [V] px
        """RMS reprojection error per camera (NaN for a camera without observations)."""
        err2 = np.sum(self.residuals_px ** 2, -1)
        V = len(self.cameras)
        n = np.bincount(obs.cam, minlength=V)
        s = np.bincount(obs.cam, weights=err2, minlength=V)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.sqrt(s / n)


def _intr_vec(cam: Camera) -> np.ndarray:
    return np.concatenate([[cam.fx, cam.fy, cam.cx, cam.cy], cam.dist])


def adjust(
    cameras: list[Camera],
    structure: np.ndarray,          # [P, 6] board poses or [P, 3] points
    obs: Observations,
    board_points: np.ndarray | None = None,  # [C, 3] board corners (board structure)
    fixed_cameras: tuple[int, ...] = (),
    refine_intrinsics: bool | list[bool] = False,
    fix_k3: bool = True,
    f_scale_px: float = 1.0,
    loss: str = "soft_l1",
    max_nfev: int = 200,
) -> BundleResult:
    """Jointly adjust camera poses (and intrinsics) and structure (see the module docstring).

    Args:
        fixed_cameras: indices whose pose stays as given (the gauge: world frame).
        refine_intrinsics: per camera (or for all) whether fx, fy, cx, cy and distortion
            are free (pinhole k3 stays fixed when ``fix_k3``).
    """
    V = len(cameras)
    model = cameras[0].model
    board = board_points is not None
    sdim = 6 if board else 3
    structure = np.asarray(structure, dtype=float).reshape(-1, sdim)
    P = len(structure)
    ext = np.array([np.concatenate([rodrigues_from_rotation(c.R), c.t]) for c in cameras])
    intr = np.array([_intr_vec(c) for c in cameras])                      # [V, 4 + D]
    D = intr.shape[1] - 4
    ext_free = np.ones((V, 6), bool)
    ext_free[list(fixed_cameras)] = False
    ref_int = ([refine_intrinsics] * V if isinstance(refine_intrinsics, bool)
               else list(refine_intrinsics))
    int_free = np.zeros((V, 4 + D), bool)
    int_free[np.array(ref_int, bool)] = True
    if model == "pinhole" and fix_k3:
        int_free[:, 8] = False
    n_ext, n_int = int(ext_free.sum()), int(int_free.sum())

    def unpack(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        e, i = ext.copy(), intr.copy()
        e[ext_free] = x[:n_ext]
        i[int_free] = x[n_ext:n_ext + n_int]
        return e, i, x[n_ext + n_int:].reshape(P, sdim)

    w = np.ones(len(obs.cam)) if obs.weight is None else np.asarray(obs.weight, float)
    sw = np.sqrt(w)[:, None]

    def project_all(e: np.ndarray, i: np.ndarray, s: np.ndarray) -> np.ndarray:  # [N, 2]
        if board:
            Rp = rodrigues_batch(s[:, :3])                                  # [P, 3, 3]
            xw = np.einsum("nij,nj->ni", Rp[obs.point], board_points[obs.corner]) \
                + s[obs.point, 3:]
        else:
            xw = s[obs.point]
        Rc = rodrigues_batch(e[:, :3])
        xc = np.einsum("nij,nj->ni", Rc[obs.cam], xw) + e[obs.cam, 3:]
        return project_cam(xc, i[obs.cam], model)

    def residuals(x: np.ndarray) -> np.ndarray:
        e, i, s = unpack(x)
        return ((project_all(e, i, s) - obs.uv) * sw).ravel()

    N = len(obs.cam)
    ext_cols = np.full((V, 6), -1)
    ext_cols[ext_free] = np.arange(n_ext)
    int_cols = np.full((V, 4 + D), -1)
    int_cols[int_free] = n_ext + np.arange(n_int)
    n_cam = n_ext + n_int
    slot_cols = np.concatenate([ext_cols, int_cols], 1)                     # [V, S]

    def jacobian(x: np.ndarray, r0: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Camera block [2N, n_cam] (dense) and each row's structure block [2N, sdim]."""
        Jc = np.zeros((2 * N, n_cam))
        Jp = np.zeros((2 * N, sdim))
        cam_rows = np.repeat(obs.cam, 2)
        for k in range(slot_cols.shape[1]):  # one camera slot across every camera at once
            cols = slot_cols[:, k]
            free = cols >= 0
            if not free.any():
                continue
            h = 1e-6 * np.maximum(1.0, np.abs(x[cols[free]]))
            xp = x.copy()
            xp[cols[free]] += h
            diff = residuals(xp) - r0
            step = np.zeros(V)
            step[free] = h
            col = cols[cam_rows]
            ok = col >= 0
            Jc[np.nonzero(ok)[0], col[ok]] = diff[ok] / step[cam_rows[ok]]
        pt_rows = np.repeat(obs.point, 2)
        for k in range(sdim):  # one structure slot across every element at once
            idx = n_cam + np.arange(P) * sdim + k
            h = 1e-6 * np.maximum(1.0, np.abs(x[idx]))
            xp = x.copy()
            xp[idx] += h
            Jp[:, k] = (residuals(xp) - r0) / h[pt_rows]
        return Jc, Jp

    x0 = np.concatenate([ext[ext_free], intr[int_free], structure.ravel()])
    x, cost, n_iter = _levenberg_marquardt_schur(
        residuals, jacobian, x0, n_cam, P, sdim, np.repeat(obs.point, 2), f_scale_px, loss,
        max_nfev)
    sol = _Solution(x, cost, n_iter)
    e, i, s = unpack(sol.x)
    out = []
    for v, c in enumerate(cameras):
        K = np.array([[i[v, 0], 0, i[v, 2]], [0, i[v, 1], i[v, 3]], [0, 0, 1]])
        out.append(Camera(c.name, K, i[v, 4:], rotation_from_rodrigues(e[v, :3]), e[v, 3:],
                          c.size, c.model))
    res = project_all(e, i, s) - obs.uv
    rms0 = float(np.sqrt(np.mean(np.sum((project_all(ext, intr, structure) - obs.uv) ** 2, -1))))
    return BundleResult(out, s, res, rms0, float(sol.cost), int(sol.nfev))


@dataclass
class _Solution:
    x: np.ndarray
    cost: float
    nfev: int


def _robust(r2: np.ndarray, f: float, loss: str) -> tuple[np.ndarray, np.ndarray]:
    """(cost terms, IRLS weights) of squared residual norms ``r2`` for ``loss``."""
    if loss == "linear":
        return 0.5 * r2, np.ones_like(r2)
    z = r2 / (f * f)
    if loss == "huber":
        w = np.where(z <= 1, 1.0, 1.0 / np.sqrt(np.maximum(z, 1e-300)))
        return 0.5 * f * f * np.where(z <= 1, z, 2 * np.sqrt(z) - 1), w
    if loss == "cauchy":
        return 0.5 * f * f * np.log1p(z), 1.0 / (1 + z)
    # soft_l1
    return f * f * (np.sqrt(1 + z) - 1), 1.0 / np.sqrt(1 + z)


def _levenberg_marquardt_schur(fun, jac, x0, n_cam: int, P: int, sdim: int,
                               point_of_row: np.ndarray, f_scale: float, loss: str,
                               max_iter: int) -> tuple[np.ndarray, float, int]:
    """Robust (IRLS) Levenberg-Marquardt whose normal equations eliminate the structure
    blocks (one ``sdim`` x ``sdim`` block per element) by the Schur complement, so a step
    costs one ``n_cam`` x ``n_cam`` solve whatever the number of board poses or points."""
    agg = coo_matrix((np.ones(len(point_of_row)), (point_of_row, np.arange(len(point_of_row)))),
                     shape=(P, len(point_of_row))).tocsr()                  # rows -> element

    def cost_of(r: np.ndarray) -> float:
        r2 = (r.reshape(-1, 2) ** 2).sum(-1)
        return float(_robust(r2, f_scale, loss)[0].sum())

    x = x0.copy()
    r = fun(x)
    cost = cost_of(r)
    lam = 1e-3
    n_iter = 0
    while n_iter < max_iter:
        n_iter += 1
        r2 = (r.reshape(-1, 2) ** 2).sum(-1)
        w = np.repeat(_robust(r2, f_scale, loss)[1], 2)                     # [2N]
        Jc, Jp = jac(x, r)
        wJc = Jc * w[:, None]
        U = Jc.T @ wJc                                                      # [C, C]
        gc = wJc.T @ r                                                      # [C]
        Vb = np.stack([agg @ (w * Jp[:, a] * Jp[:, b]) for a in range(sdim)
                       for b in range(sdim)], -1).reshape(P, sdim, sdim)    # [P, s, s]
        Wb = np.stack([agg.dot(wJc * Jp[:, [a]]) for a in range(sdim)], -1)  # [P, C, s]
        gp = np.stack([agg @ (w * Jp[:, a] * r) for a in range(sdim)], -1)  # [P, s]
        improved, rel = False, 0.0
        for _ in range(10):
            Vd = Vb + lam * (np.diagonal(Vb, axis1=1, axis2=2)[..., None] * np.eye(sdim)
                             + 1e-12 * np.eye(sdim))
            Vinv = np.linalg.inv(Vd)                                        # [P, s, s]
            WV = np.einsum("pcs,pst->pct", Wb, Vinv)                        # [P, C, s]
            S = U + lam * np.diag(np.diag(U) + 1e-12) - np.einsum("pcs,pds->cd", WV, Wb)
            rhs = -gc + np.einsum("pcs,ps->c", WV, gp)
            try:
                dc = np.linalg.solve(S, rhs) if n_cam else np.zeros(0)
            except np.linalg.LinAlgError:
                dc = np.linalg.lstsq(S, rhs, rcond=None)[0]
            dp = np.einsum("pst,pt->ps", Vinv, -gp - np.einsum("pcs,c->ps", Wb, dc))
            step = np.concatenate([dc, dp.ravel()])
            x_new = x + step
            r_new = fun(x_new)
            c_new = cost_of(r_new)
            if np.isfinite(c_new) and c_new < cost:
                rel = (cost - c_new) / max(cost, 1e-300)
                x, r, cost = x_new, r_new, c_new
                lam = max(lam / 3, 1e-9)
                improved = True
                break
            lam *= 5
        if not improved or rel < 1e-10 or np.abs(step).max() < 1e-12:
            break
    return x, cost, n_iter
