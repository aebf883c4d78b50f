"""Synthetic rigs and skeleton motions for tests, benchmarks of the fitter and demos.

World frame: metres, z up, the actor near the origin. Nothing here is random unless a
``numpy.random.Generator`` is passed.
"""

from __future__ import annotations

import numpy as np

from ..camera import Camera, Rig
from ..skeletons import get_joint_set

#: Standing pose (metres, z up, facing +y) for every body_25 joint name.
_TEMPLATE = {
    "nose": (0.0, 0.09, 1.62), "neck": (0.0, 0.0, 1.50),
    "right_shoulder": (-0.18, 0.0, 1.46), "right_elbow": (-0.24, 0.02, 1.18),
    "right_wrist": (-0.26, 0.08, 0.93), "left_shoulder": (0.18, 0.0, 1.46),
    "left_elbow": (0.24, 0.02, 1.18), "left_wrist": (0.26, 0.08, 0.93),
    "mid_hip": (0.0, 0.0, 0.95), "right_hip": (-0.10, 0.0, 0.93),
    "right_knee": (-0.11, 0.03, 0.51), "right_ankle": (-0.12, 0.0, 0.09),
    "left_hip": (0.10, 0.0, 0.93), "left_knee": (0.11, 0.03, 0.51),
    "left_ankle": (0.12, 0.0, 0.09), "right_eye": (-0.035, 0.075, 1.66),
    "left_eye": (0.035, 0.075, 1.66), "right_ear": (-0.075, 0.0, 1.64),
    "left_ear": (0.075, 0.0, 1.64), "left_big_toe": (0.13, 0.16, 0.02),
    "left_small_toe": (0.18, 0.14, 0.02), "left_heel": (0.12, -0.05, 0.03),
    "right_big_toe": (-0.13, 0.16, 0.02), "right_small_toe": (-0.18, 0.14, 0.02),
    "right_heel": (-0.12, -0.05, 0.03),
    # canonical-only joints
    "pelvis": (0.0, 0.0, 0.95), "head": (0.0, 0.0, 1.64), "head_top": (0.0, 0.0, 1.76),
    "left_toe": (0.13, 0.16, 0.02), "right_toe": (-0.13, 0.16, 0.02),
}


def look_at_camera(name: str, centre: np.ndarray, target: np.ndarray, f: float = 1200.0,
                   size: tuple[int, int] = (1280, 720), dist: np.ndarray | None = None,
                   model: str = "pinhole") -> Camera:
    """A camera at ``centre`` (metres) looking at ``target``, z-up world, no roll."""
    centre = np.asarray(centre, float)
    z = np.asarray(target, float) - centre
    z /= np.linalg.norm(z)
    x = np.cross(z, [0.0, 0.0, 1.0])
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    R = np.stack([x, y, z])
    K = np.array([[f, 0, size[0] / 2], [0, f, size[1] / 2], [0, 0, 1]])
    return Camera(name, K, np.zeros(5 if model == "pinhole" else 4) if dist is None else dist,
                  R, -R @ centre, size, model)


def ring_rig(n_views: int = 4, radius: float = 4.0, height: float = 1.6, f: float = 1200.0,
             size: tuple[int, int] = (1280, 720), distortion: float = 0.0) -> Rig:
    """``n_views`` cameras on a circle around the origin looking at (0, 0, 1) m.

    ``distortion`` sets k1 (and k2 = -k1 / 4) on every camera.
    """
    cams = []
    for i in range(n_views):
        a = 2 * np.pi * i / n_views + 0.3
        centre = np.array([radius * np.cos(a), radius * np.sin(a), height + 0.2 * (i % 2)])
        dist = np.array([distortion, -distortion / 4, 0.0, 0.0, 0.0])
        cams.append(look_at_camera(f"cam{i}", centre, [0, 0, 1.0], f, size, dist))
    return Rig(cams, "synthetic ring rig")


def template_pose(joint_set: str = "body_25") -> np.ndarray:
    """[J, 3] standing pose of a joint set (metres)."""
    js = get_joint_set(joint_set)
    return np.array([_TEMPLATE[n] for n in js.joints], dtype=float)


def _tree(joint_set: str) -> tuple[list[int], list[int]]:
    """Breadth-first order and parent index (-1 for the root) over the joint set's bones."""
    js = get_joint_set(joint_set)
    adj: dict[int, list[int]] = {j: [] for j in range(js.n)}
    for a, b in js.bone_indices:
        adj[int(a)].append(int(b))
        adj[int(b)].append(int(a))
    names = list(js.joints)
    root = next((names.index(n) for n in ("mid_hip", "pelvis", "left_hip") if n in names), 0)
    parent = [-2] * js.n
    parent[root] = -1
    order = [root]
    for j in order:
        for k in adj[j]:
            if parent[k] == -2:
                parent[k] = j
                order.append(k)
    for j in range(js.n):  # joints without bones hang off the root
        if parent[j] == -2:
            parent[j] = root
            order.append(j)
    return order, parent


def _axis_angle(w: np.ndarray) -> np.ndarray:
    """[..., 3] rotation vectors -> [..., 3, 3] matrices."""
    th = np.linalg.norm(w, axis=-1, keepdims=True)
    k = w / np.maximum(th, 1e-12)
    kx = np.zeros((*w.shape, 3))
    kx[..., 0, 1], kx[..., 0, 2], kx[..., 1, 2] = -k[..., 2], k[..., 1], -k[..., 0]
    kx = kx - np.swapaxes(kx, -1, -2)
    th = th[..., None]
    return np.eye(3) + np.sin(th) * kx + (1 - np.cos(th)) * (kx @ kx)


def random_motion(n_frames: int, joint_set: str = "body_25", fps: float = 30.0,
                  rng: np.random.Generator | None = None) -> np.ndarray:
    """[F, J, 3] a plausible smooth motion with rigid bones (forward kinematics).

    The template is scaled and jittered per actor (fixed over the take); every bone swings
    about its parent joint with smooth sinusoidal angles (up to ~0.35 rad), the body turns
    slowly and drifts within ~0.5 m of the origin.
    """
    rng = np.random.default_rng(0) if rng is None else rng
    js = get_joint_set(joint_set)
    base = template_pose(joint_set) * rng.uniform(0.9, 1.1)
    base = base + rng.normal(0, 0.01, base.shape)
    for left, right in js.pair_indices:  # a left-right symmetric actor
        base[right] = base[left] * [-1.0, 1.0, 1.0]
    order, parent = _tree(joint_set)
    J = base.shape[0]
    t = np.arange(n_frames) / fps
    amp = rng.uniform(0.05, 0.35, (J, 3))
    freq = rng.uniform(0.3, 1.2, (J, 3))
    phase = rng.uniform(0, 2 * np.pi, (J, 3))
    angles = amp * np.sin(2 * np.pi * freq * t[:, None, None] + phase)  # [F, J, 3]
    local = _axis_angle(angles)  # [F, J, 3, 3]
    pose = np.zeros((n_frames, J, 3))
    glob = np.zeros((n_frames, J, 3, 3))
    for j in order:
        p = parent[j]
        if p < 0:
            glob[:, j] = np.eye(3)
            pose[:, j] = base[j]
            continue
        glob[:, j] = glob[:, p] @ local[:, p]
        pose[:, j] = pose[:, p] + np.einsum("fik,k->fi", glob[:, j], base[j] - base[p])
    yaw = 0.4 * np.sin(2 * np.pi * 0.1 * t + rng.uniform(0, 6))
    Rz = _axis_angle(np.stack([0 * t, 0 * t, yaw], -1))
    pose = np.einsum("fij,fkj->fki", Rz, pose)
    drift = 0.3 * np.stack([np.sin(0.2 * t), np.cos(0.15 * t) - 1, 0 * t], -1)
    return pose + drift[:, None]


def project_motion(rig: Rig, joints3d: np.ndarray, conf: float = 1.0) -> np.ndarray:
    """[F, J, 3] metres -> [F, V, J, 3] distorted pixels + confidence (0 where behind a camera
    or outside the image)."""
    uv = rig.project(joints3d)  # [F, J, V, 2]
    uv = np.moveaxis(uv, -2, 1)  # [F, V, J, 2]
    inside = np.stack([c.in_image(uv[:, v]) for v, c in enumerate(rig.cameras)], 1)
    ok = np.isfinite(uv).all(-1) & inside
    out = np.zeros((*uv.shape[:-1], 3))
    out[..., :2] = np.where(ok[..., None], uv, 0.0)
    out[..., 2] = np.where(ok, conf, 0.0)
    return out
