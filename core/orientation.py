"""Rotation building blocks for the rigid armature (numpy, vectorised over frames).

Every function works on stacks: ``[..., 3]`` vectors and ``[..., 3, 3]`` rotation matrices
whose columns are the rotated x, y, z axes. Degenerate inputs (zero or parallel vectors)
never produce NaN: they fall back to the identity or to the first vector alone.
"""

from __future__ import annotations

import numpy as np

X_AXIS, Y_AXIS, Z_AXIS = np.eye(3)


def normalize(v: np.ndarray) -> np.ndarray:
    """[..., 3] unit vectors (zero vectors stay zero)."""
    n = np.linalg.norm(v, axis=-1, keepdims=True)
    return v / np.where(n > 1e-12, n, 1.0)


def swing(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """[..., 3, 3] smallest rotation turning direction ``a`` onto ``b`` (both [..., 3]).

    Opposite vectors turn by 180 degrees about an axis perpendicular to ``a``; a zero vector
    gives the identity.
    """
    a, b = np.broadcast_arrays(normalize(np.asarray(a, float)), normalize(np.asarray(b, float)))
    v = np.cross(a, b)
    c = np.sum(a * b, -1)[..., None, None]
    vx = np.zeros((*v.shape[:-1], 3, 3))
    vx[..., 0, 1], vx[..., 0, 2], vx[..., 1, 2] = -v[..., 2], v[..., 1], -v[..., 0]
    vx = vx - np.swapaxes(vx, -1, -2)
    near = c[..., 0, 0] < -1 + 1e-9
    rot = np.eye(3) + vx + vx @ vx / (1.0 + np.where(near[..., None, None], 1.0, c))
    if np.any(near):
        an = a[near]
        axis = normalize(np.cross(an, np.where(np.abs(an[:, :1]) < 0.9, X_AXIS, Z_AXIS)))
        rot[near] = 2 * axis[:, :, None] * axis[:, None, :] - np.eye(3)
    zero = (np.linalg.norm(a, axis=-1) < 0.5) | (np.linalg.norm(b, axis=-1) < 0.5)
    if np.any(zero):
        rot[zero] = np.eye(3)
    return rot


def axis_angle(axis: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """[..., 3, 3] rotation by ``angle`` [...] (radians) about unit ``axis`` [..., 3]."""
    axis = normalize(axis)
    angle = np.asarray(angle, dtype=float)[..., None, None]
    K = np.zeros((*axis.shape[:-1], 3, 3))
    K[..., 0, 1], K[..., 0, 2], K[..., 1, 2] = -axis[..., 2], axis[..., 1], -axis[..., 0]
    K = K - np.swapaxes(K, -1, -2)
    return np.eye(3) + np.sin(angle) * K + (1 - np.cos(angle)) * (K @ K)


def frame_from(primary: np.ndarray, secondary: np.ndarray) -> np.ndarray:
    """[..., 3, 3] right-handed frame: column 0 along ``primary``, column 1 along the part of
    ``secondary`` perpendicular to it, column 2 their cross product (Gram-Schmidt).

    Where ``secondary`` is (nearly) parallel to ``primary`` the frame is degenerate; check
    with :func:`frame_ok`.
    """
    e1 = normalize(primary)
    e2 = normalize(secondary - np.sum(secondary * e1, -1, keepdims=True) * e1)
    return np.stack([e1, e2, np.cross(e1, e2)], axis=-1)


def frame_ok(frame: np.ndarray) -> np.ndarray:
    """[...] True where a :func:`frame_from` result is a proper rotation."""
    return np.abs(np.linalg.det(frame) - 1.0) < 1e-6


def kabsch(rest: np.ndarray, pose: np.ndarray, weights: np.ndarray | None = None
           ) -> tuple[np.ndarray, np.ndarray]:
    """Rotations best turning rest offsets onto posed offsets (no translation, no scale).

    Minimises ``sum_k w_k |R rest_k - pose_fk|^2`` per frame.

    Args:
        rest: [K, 3] offsets in the rest pose.
        pose: [F, K, 3] offsets per frame.
        weights: [F, K] or [K] non-negative weights (default 1).

    Returns:
        rotations [F, 3, 3] and ok [F] (False where the points are collinear or absent:
        the rotation is then the identity).
    """
    w = np.ones(pose.shape[:2]) if weights is None else np.broadcast_to(weights, pose.shape[:2])
    H = np.einsum("fk,ki,fkj->fij", w, rest, pose)  # [F, 3, 3]
    U, S, Vt = np.linalg.svd(H)
    d = np.sign(np.linalg.det(np.swapaxes(Vt, -1, -2) @ np.swapaxes(U, -1, -2)))
    D = np.zeros_like(H)
    D[:, 0, 0], D[:, 1, 1], D[:, 2, 2] = 1.0, 1.0, np.where(d == 0, 1.0, d)
    R = np.swapaxes(Vt, -1, -2) @ D @ np.swapaxes(U, -1, -2)
    scale = np.maximum(S[:, 0], 1e-12)
    ok = S[:, 1] > 1e-3 * scale
    R[~ok] = np.eye(3)
    return R, ok


def twist_towards(rot: np.ndarray, axis: np.ndarray, rest_cue: np.ndarray,
                  pose_cue: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Turn ``rot`` about the (posed) ``axis`` so its image of ``rest_cue`` points along
    ``pose_cue``, by ``weight`` (0..1) of the needed angle.

    Args:
        rot: [F, 3, 3] rotations (rest -> pose).
        axis: [F, 3] posed bone direction (the twist axis).
        rest_cue: [3] or [F, 3] a direction in the rest pose.
        pose_cue: [F, 3] where that direction should point (only its part perpendicular to
            ``axis`` matters).
        weight: [F] fraction of the twist applied (0 where the cue is unreliable).
    """
    axis = normalize(axis)
    have = np.einsum("fij,fj->fi", rot, np.broadcast_to(rest_cue, axis.shape))
    have = normalize(have - np.sum(have * axis, -1, keepdims=True) * axis)
    want = normalize(pose_cue - np.sum(pose_cue * axis, -1, keepdims=True) * axis)
    angle = np.arctan2(np.sum(np.cross(have, want) * axis, -1), np.sum(have * want, -1))
    valid = (np.linalg.norm(have, axis=-1) > 0.5) & (np.linalg.norm(want, axis=-1) > 0.5)
    angle = np.where(valid, angle * np.asarray(weight, dtype=float), 0.0)
    return axis_angle(axis, angle) @ rot


def smoothstep(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """0 below ``lo``, 1 above ``hi``, a smooth ramp between."""
    t = np.clip((np.asarray(x, dtype=float) - lo) / (hi - lo), 0.0, 1.0)
    return t * t * (3 - 2 * t)


def blender_roll_zero_frame(direction: np.ndarray) -> np.ndarray:
    """[..., 3, 3] the rest matrix Blender gives a bone along ``direction`` with roll 0.

    Blender (``vec_roll_to_mat3_normalized``) turns +Y onto the bone by the smallest rotation;
    a bone pointing (almost) along -Y gets diag(-1, -1, 1). Mirrored bones get mirrored
    frames, so X-mirror editing and symmetrize behave.
    """
    n = normalize(np.asarray(direction, dtype=float))
    x, y, z = n[..., 0], n[..., 1], n[..., 2]
    theta = 1.0 + y
    theta_alt = x * x + z * z
    safe, critical = 6.1e-3, 2.5e-4 ** 2  # Blender's SAFE / CRITICAL_THRESHOLD^2
    use = (theta > safe) | (theta_alt > critical)
    theta = np.where(theta <= safe, theta_alt * 0.5 + theta_alt * theta_alt * 0.125, theta)
    theta = np.where(use, theta, 1.0)
    out = np.zeros((*n.shape[:-1], 3, 3))
    out[..., 0, 0] = 1 - x * x / theta
    out[..., 1, 0] = -x
    out[..., 2, 0] = -x * z / theta
    out[..., :, 1] = n
    out[..., 0, 2] = -x * z / theta
    out[..., 1, 2] = -z
    out[..., 2, 2] = 1 - z * z / theta
    out[~use] = np.diag([-1.0, -1.0, 1.0])
    return out
