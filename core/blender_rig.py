"""Armature maths for baking fitted joints onto the canonical skeleton (numpy, no ``bpy``).

Approach (documented in the README's Blender section):
- Rest pose: a T-pose of the canonical skeleton (Blender axes: Z up, facing -Y, the actor's
  left on +X) whose segment lengths are the take's median joint distances, with the pelvis at
  the take's median pelvis position. Every joint is one bone whose head is the joint; a bone
  points at its aim child (pelvis -> neck, neck -> head, head -> head_top or nose, ankle -> toe,
  limbs along the limb); leaves continue their parent segment.
- Pose: each bone gets a world rotation ``D`` (rest -> pose). Pelvis and neck use two
  directions (aim child and the left-right hip / shoulder line), so the trunk's twist is
  determined; every other bone takes its parent's rotation followed by the smallest rotation
  ("swing") that turns its rest direction onto the fitted one; leaves keep the parent's. Bones
  are disconnected and keyed with location too, so every bone head lands exactly on the joint
  (lengths may vary a little from frame to frame, as the fit does).
- Keys are Blender ``matrix_basis`` values: ``basis = (B_p^-1 B)^-1 M_p^-1 M``, with ``B`` the rest
  bone matrices (armature space) and ``M`` the pose matrices.

Shapes: F frames, J joints (bones, in :attr:`RigPlan.joint_names` order).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import SkelsplatError
from .skeletons import CANONICAL_JOINTS, CANONICAL_PARENTS

_LEFT, _UP, _FWD = np.array([1.0, 0, 0]), np.array([0, 0, 1.0]), np.array([0, -1.0, 0])

#: Rest direction of the segment parent -> joint (Blender axes, actor's left = +X).
TEMPLATE_DIRECTIONS: dict[str, np.ndarray] = {
    "left_hip": _LEFT, "left_knee": -_UP, "left_ankle": -_UP,
    "left_heel": np.array([0.0, 0.5, -1.0]), "left_toe": np.array([0.0, -1.0, -0.4]),
    "neck": _UP, "head": _UP, "head_top": _UP, "nose": np.array([0.0, -1.0, 0.3]),
    "left_shoulder": _LEFT, "left_elbow": _LEFT, "left_wrist": _LEFT,
}
for _name in list(TEMPLATE_DIRECTIONS):
    if _name.startswith("left_"):
        TEMPLATE_DIRECTIONS["right_" + _name[5:]] = TEMPLATE_DIRECTIONS[_name] * [-1.0, 1, 1]
TEMPLATE_DIRECTIONS = {k: v / np.linalg.norm(v) for k, v in TEMPLATE_DIRECTIONS.items()}

#: Preferred aim child of each bone, best first (the first one present is used).
AIM_CHILDREN: dict[str, tuple[str, ...]] = {
    "pelvis": ("neck",), "neck": ("head", "nose"), "head": ("head_top", "nose"),
    "left_hip": ("left_knee",), "left_knee": ("left_ankle",),
    "left_ankle": ("left_toe", "left_heel"),
    "right_hip": ("right_knee",), "right_knee": ("right_ankle",),
    "right_ankle": ("right_toe", "right_heel"),
    "left_shoulder": ("left_elbow",), "left_elbow": ("left_wrist",),
    "right_shoulder": ("right_elbow",), "right_elbow": ("right_wrist",),
}

#: Bones whose twist comes from a left-right joint pair: bone -> (left, right).
SIDE_PAIRS: dict[str, tuple[str, str]] = {
    "pelvis": ("left_hip", "right_hip"), "neck": ("left_shoulder", "right_shoulder"),
}


@dataclass(frozen=True)
class RigPlan:
    """The canonical armature for one take.

    Attributes:
        joint_names: J bone names (canonical joints present in the take), parents first.
        parents: [J] parent bone index, -1 for the root.
        aim: [J] aim child index, -1 for leaves.
        heads: [J, 3] rest head positions (metres, armature space).
        tails: [J, 3] rest tail positions.
        frames: [J, 3, 3] rest bone rotations (columns: bone x, y = along the bone, z).
        lengths: [J] median segment length parent -> joint (0 for the root), metres.
    """

    joint_names: list[str]
    parents: np.ndarray
    aim: np.ndarray
    heads: np.ndarray
    tails: np.ndarray
    frames: np.ndarray
    lengths: np.ndarray


def fill_gaps(values: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Linear interpolation over frames of invalid entries; ends hold the nearest value.

    Args:
        values: [F, J, ...] array.
        valid: [F, J] bool.

    Returns:
        [F, J, ...] float array; joints never valid stay NaN.
    """
    out = np.array(values, dtype=float)
    F = out.shape[0]
    frames = np.arange(F)
    flat = out.reshape(F, out.shape[1], -1)
    for j in range(out.shape[1]):
        ok = valid[:, j] & np.all(np.isfinite(flat[:, j]), axis=-1)
        if ok.all() or not ok.any():
            if not ok.any():
                flat[:, j] = np.nan
            continue
        for c in range(flat.shape[2]):
            flat[:, j, c] = np.interp(frames, frames[ok], flat[ok, j, c])
    return flat.reshape(out.shape)


def _normalize(v: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(v, axis=-1, keepdims=True)
    return v / np.where(n > 1e-12, n, 1.0)


def _bone_frame(y: np.ndarray, side: np.ndarray | None = None) -> np.ndarray:
    """[..., 3, 3] rotation with column y along ``y`` and column x towards ``side``."""
    y = _normalize(y)
    if side is None:
        up = np.where(np.abs(y[..., 2:3]) < 0.9, _UP, _FWD)
        z = _normalize(up - np.sum(up * y, -1, keepdims=True) * y)
        x = np.cross(y, z)
    else:
        x = _normalize(side - np.sum(side * y, -1, keepdims=True) * y)
        z = np.cross(x, y)
    return np.stack([x, y, z], axis=-1)


def plan_rig(joints3d: np.ndarray, joint_names: list[str]) -> RigPlan:
    """Rest armature (T-pose, median lengths) for gap-filled joints.

    Args:
        joints3d: [F, J_in, 3] metres, gaps already filled (see :func:`fill_gaps`); joints that
            are NaN in every frame are left out of the armature.
        joint_names: J_in canonical names.
    """
    names_in = list(joint_names)
    present = [n for n in CANONICAL_JOINTS
               if n in names_in and np.isfinite(joints3d[:, names_in.index(n)]).all()]
    if "pelvis" not in present:
        raise SkelsplatError("cannot bake: the motion has no pelvis joint (the armature root)")
    pos = {n: joints3d[:, names_in.index(n)] for n in present}

    def parent_of(name: str) -> str | None:
        p = CANONICAL_PARENTS[name]
        while p is not None and p not in pos:
            p = CANONICAL_PARENTS[p]
        return p

    J = len(present)
    parents = np.array([-1 if parent_of(n) is None else present.index(parent_of(n))
                        for n in present])
    lengths = np.zeros(J)
    heads = np.zeros((J, 3))
    heads[0] = np.median(pos["pelvis"], axis=0)
    for j, n in enumerate(present[1:], start=1):
        p = present[parents[j]]
        lengths[j] = float(np.median(np.linalg.norm(pos[n] - pos[p], axis=-1)))
        heads[j] = heads[parents[j]] + TEMPLATE_DIRECTIONS[n] * lengths[j]
    aim = np.array([next((present.index(c) for c in AIM_CHILDREN.get(n, ()) if c in pos
                          and parents[present.index(c)] == j), -1)
                    for j, n in enumerate(present)])
    directions = np.zeros((J, 3))
    tails = np.zeros((J, 3))
    for j, n in enumerate(present):
        if aim[j] >= 0:
            directions[j] = heads[aim[j]] - heads[j]
            tails[j] = heads[aim[j]]
        else:
            directions[j] = TEMPLATE_DIRECTIONS.get(n, _UP)
            size = np.clip(0.5 * lengths[j], 0.03, 0.15) if lengths[j] > 0 else 0.1
            tails[j] = heads[j] + _normalize(directions[j]) * size
    frames = np.stack([_bone_frame(directions[j], _LEFT if present[j] in SIDE_PAIRS else None)
                       for j in range(J)])
    return RigPlan(present, parents, aim, heads, tails, frames, lengths)


def _swing(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """[..., 3, 3] smallest rotation turning unit vectors ``a`` onto ``b`` (both [..., 3])."""
    a, b = _normalize(a), _normalize(b)
    v = np.cross(a, b)
    c = np.sum(a * b, -1)[..., None, None]
    vx = np.zeros((*v.shape[:-1], 3, 3))
    vx[..., 0, 1], vx[..., 0, 2], vx[..., 1, 2] = -v[..., 2], v[..., 1], -v[..., 0]
    vx = vx - np.swapaxes(vx, -1, -2)
    # Rodrigues in the form I + [v] + [v]^2 / (1 + c); opposite vectors are turned about x or z.
    near = (c[..., 0, 0] < -1 + 1e-9)
    c_safe = np.where(near[..., None, None], 1.0, c)
    rot = np.eye(3) + vx + vx @ vx / (1.0 + c_safe)
    if np.any(near):
        axis = _normalize(np.cross(a[near], np.where(np.abs(a[near, :1]) < 0.9, _LEFT, _UP)))
        rot[near] = 2 * axis[:, :, None] * axis[:, None, :] - np.eye(3)
    return rot


def pose_matrices(plan: RigPlan, joints3d: np.ndarray) -> np.ndarray:
    """[F, J, 4, 4] armature-space pose matrices whose translations are the joints.

    Args:
        joints3d: [F, J, 3] gap-filled joints in ``plan.joint_names`` order (metres).
    """
    F, J = joints3d.shape[:2]
    names = plan.joint_names
    rest_dir = np.where((plan.aim >= 0)[:, None],
                        plan.heads[np.maximum(plan.aim, 0)] - plan.heads, 0.0)
    delta = np.zeros((F, J, 3, 3))
    for j, n in enumerate(names):
        p = plan.parents[j]
        parent_delta = np.broadcast_to(np.eye(3), (F, 3, 3)) if p < 0 else delta[:, p]
        if plan.aim[j] < 0:
            delta[:, j] = parent_delta
            continue
        current = joints3d[:, plan.aim[j]] - joints3d[:, j]
        # Swing from the parent's rotation (a zero-length segment gives no swing).
        delta[:, j] = _swing(parent_delta @ rest_dir[j], current) @ parent_delta
        pair = SIDE_PAIRS.get(n)
        if pair and pair[0] in names and pair[1] in names:
            li, ri = names.index(pair[0]), names.index(pair[1])
            rest = _bone_frame(rest_dir[j], plan.heads[li] - plan.heads[ri])
            pose = _bone_frame(current, joints3d[:, li] - joints3d[:, ri])
            ok = np.linalg.det(pose) > 0.5  # degenerate: side line along the bone, or zero
            delta[ok, j] = pose[ok] @ rest.T
    out = np.zeros((F, J, 4, 4))
    out[..., :3, :3] = delta @ plan.frames
    out[..., :3, 3] = joints3d
    out[..., 3, 3] = 1.0
    return out


def basis_from_pose(rest: np.ndarray, parents: np.ndarray, pose: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Bone-local keys (Blender ``matrix_basis``) from armature-space pose matrices.

    Args:
        rest: [J, 4, 4] rest bone matrices (``Bone.matrix_local``).
        parents: [J] parent index, -1 for the root.
        pose: [F, J, 4, 4] wanted pose matrices.

    Returns:
        locations [F, J, 3] and quaternions [F, J, 4] (w, x, y, z; sign-continuous over F).
    """
    inv_rest = np.linalg.inv(rest)
    basis = np.empty_like(pose)
    for j, p in enumerate(parents):
        if p < 0:
            basis[:, j] = inv_rest[j] @ pose[:, j]
        else:
            basis[:, j] = inv_rest[j] @ rest[p] @ np.linalg.inv(pose[:, p]) @ pose[:, j]
    return basis[..., :3, 3], continuous_quaternions(quaternion_from_matrix(basis[..., :3, :3]))


def quaternion_from_matrix(R: np.ndarray) -> np.ndarray:
    """[..., 3, 3] rotations -> [..., 4] unit quaternions (w, x, y, z), w >= 0.

    Shepperd's method: divide by the largest of 4w^2, 4x^2, 4y^2, 4z^2 (full precision).
    """
    R = np.asarray(R, dtype=float)
    m = R.reshape(-1, 3, 3)
    tr = np.trace(m, axis1=1, axis2=2)
    cand = np.stack([tr, m[:, 0, 0], m[:, 1, 1], m[:, 2, 2]], axis=1)
    pick = np.argmax(cand, axis=1)
    q = np.empty((m.shape[0], 4))
    d01, d02, d12 = m[:, 0, 1] - m[:, 1, 0], m[:, 0, 2] - m[:, 2, 0], m[:, 1, 2] - m[:, 2, 1]
    s01, s02, s12 = m[:, 0, 1] + m[:, 1, 0], m[:, 0, 2] + m[:, 2, 0], m[:, 1, 2] + m[:, 2, 1]
    for k in range(4):
        sel = pick == k
        if not sel.any():
            continue
        r = np.sqrt(np.maximum(1.0 + 2.0 * cand[sel, k] - tr[sel], 1e-300))  # 2|q_k|
        if k == 0:
            rows = [r, -d12[sel] / r, d02[sel] / r, -d01[sel] / r]
        elif k == 1:
            rows = [-d12[sel] / r, r, s01[sel] / r, s02[sel] / r]
        elif k == 2:
            rows = [d02[sel] / r, s01[sel] / r, r, s12[sel] / r]
        else:
            rows = [-d01[sel] / r, s02[sel] / r, s12[sel] / r, r]
        q[sel] = np.stack(rows, axis=1) / 2.0
    q *= np.where(q[:, :1] < 0, -1.0, 1.0)
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    return q.reshape(*R.shape[:-2], 4)


def continuous_quaternions(q: np.ndarray) -> np.ndarray:
    """Flip signs along axis 0 (frames) so consecutive quaternions have a positive dot."""
    q = np.array(q, dtype=float)
    for f in range(1, q.shape[0]):
        flip = np.sum(q[f] * q[f - 1], axis=-1) < 0
        q[f][flip] *= -1
    return q


def ellipsoid_transforms(covariances: np.ndarray, sigma: float
                         ) -> tuple[np.ndarray, np.ndarray]:
    """Rotation and scale of a unit sphere that becomes the ``sigma`` ellipsoid of each Gaussian.

    ``R diag(s)^2 R^T = sigma^2 C`` for every covariance ``C``.

    Args:
        covariances: [F, J, 3, 3] m^2, gap-filled (symmetric positive semi-definite).
        sigma: number of standard deviations.

    Returns:
        quaternions [F, J, 4] (w, x, y, z), scales [F, J, 3] metres.
    """
    cov = 0.5 * (covariances + np.swapaxes(covariances, -1, -2))
    values, vectors = np.linalg.eigh(cov)
    for f in range(1, vectors.shape[0]):  # keep eigenvector signs steady over time
        dots = np.sum(vectors[f] * vectors[f - 1], axis=-2)
        vectors[f] *= np.where(dots < 0, -1.0, 1.0)[..., None, :]
    det = np.linalg.det(vectors)
    vectors[..., :, 2] *= np.sign(np.where(det == 0, 1.0, det))[..., None]
    scales = sigma * np.sqrt(np.clip(values, 0.0, None))
    return continuous_quaternions(quaternion_from_matrix(vectors)), scales
