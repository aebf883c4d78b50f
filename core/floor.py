"""The floor of a take: a plane through the feet's contact points, and the transform that
puts it at Z = 0 with +Z up.

The plane's normal comes from a least-squares fit to the low, slow foot points when they
spread over an area (a take that moves around); when they lie along a line (a straight walk)
the slope along the line is kept and the tilt across it, unobservable, comes from the body's
median up direction (pelvis -> neck); points in one spot give the body's up alone. The
plane passes through the lowest per-point contact level (points that are never slow do not
count), so planted feet stand on it, never in it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .contacts import ContactOptions, contact_levels, foot_points, horizontal_speed
from .orientation import Z_AXIS, normalize, swing

#: Contact points must spread at least this much (std, metres) across their main direction
#: before the plane fit may tilt the floor away from the body's up direction.
MIN_SPREAD_M = 0.15
#: Largest angle (degrees) between the fitted normal and the body's up direction.
MAX_TILT_DEG = 25.0


@dataclass(frozen=True)
class Floor:
    """A floor plane ``up . p = offset``.

    Attributes:
        up: [3] unit normal pointing from the floor to the body.
        offset: metres.
        n_points: contact points the plane was fitted to.
        fitted_normal: True when the normal came from the plane fit, False when from the
            body's up direction.
    """

    up: np.ndarray
    offset: float
    n_points: int = 0
    fitted_normal: bool = False

    def height(self, points: np.ndarray) -> np.ndarray:
        """[...] height above the floor of points [..., 3]."""
        return points @ self.up - self.offset

    def alignment(self) -> np.ndarray:
        """[4, 4] rigid transform taking this floor to Z = 0 with ``up`` -> +Z (smallest
        rotation, so the calibration's horizontal axes stay as close as possible)."""
        out = np.eye(4)
        out[:3, :3] = swing(self.up, Z_AXIS)
        out[2, 3] = -self.offset
        return out


def transform_points(A: np.ndarray, P: np.ndarray) -> np.ndarray:
    """[..., 3] points P moved by the 4x4 transform A."""
    return P @ A[:3, :3].T + A[:3, 3]


def body_up(joints3d: np.ndarray, joint_names: list[str]) -> np.ndarray:
    """[3] the median pelvis -> neck (else -> head) direction of the take."""
    top = next((n for n in ("neck", "head", "nose") if n in joint_names), None)
    if top is None or "pelvis" not in joint_names:
        return Z_AXIS.copy()
    d = normalize(joints3d[:, joint_names.index(top)] - joints3d[:, joint_names.index("pelvis")])
    d = d[np.isfinite(d).all(-1)]
    return normalize(np.median(d, axis=0)) if len(d) else Z_AXIS.copy()


def estimate_floor(joints3d: np.ndarray, joint_names: list[str], fps: float,
                   opts: ContactOptions | None = None) -> Floor:
    """The floor under a take's feet (see the module docstring).

    Args:
        joints3d: [F, J, 3] gap-filled joints, metres.
    """
    opts = opts or ContactOptions()
    up = body_up(joints3d, joint_names)
    pts = foot_points(joint_names, "left") + foot_points(joint_names, "right")
    if not pts:
        low = np.nanmin(joints3d @ up)
        return Floor(up, float(low))
    P = joints3d[:, [joint_names.index(n) for n in pts]]  # [F, K, 3]
    fitted = False
    for _ in range(2):
        h = P @ up
        v = horizontal_speed(P, up, fps, opts.speed_window)
        cand = np.zeros(h.shape, bool)
        for k in range(h.shape[1]):
            slow = v[:, k] < opts.enter_speed
            if slow.any():
                cand[:, k] = slow & (h[:, k] < np.percentile(h[slow, k], 5) + 0.05)
        cloud = P[cand]
        if len(cloud) < 6:
            break
        centred = cloud - cloud.mean(0)
        _, s, vt = np.linalg.svd(centred, full_matrices=False)
        spread = s[:2] / np.sqrt(len(cloud))
        if spread[1] >= MIN_SPREAD_M:  # an area: the plane's normal
            normal = vt[2]
        elif spread[0] >= MIN_SPREAD_M:  # a line: its slope, the body's up across it
            normal = normalize(up - (up @ vt[0]) * vt[0])
        else:
            break
        normal = normal * np.sign(normal @ up or 1.0)
        if np.degrees(np.arccos(np.clip(normal @ up, -1, 1))) > MAX_TILT_DEG:
            break
        up, fitted = normalize(normal), True
    h = P @ up
    v = horizontal_speed(P, up, fps, opts.speed_window)
    levels, seen = contact_levels(h, v, opts)
    offset = levels[seen].min() if seen.any() else levels.min()
    return Floor(up, float(offset), int(np.count_nonzero(v < opts.enter_speed)), fitted)
