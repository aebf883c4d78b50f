"""The floor of a take: the plane the feet stand on, and the transform that puts it at Z = 0
with +Z up.

The floor supports the feet: in (nearly) every frame the lowest foot point (heel, toe)
touches it and no foot point goes through it. Its normal is the direction, within
``MAX_TILT_DEG`` of a prior up, that minimises the mean height of each frame's lowest foot
point above the floor under them all (a robust low percentile; heights capped at
``SUPPORT_CAP_M`` so swings and jumps do not count). A wrong tilt shows as feet that stand
high in one place and sink through the floor in another; directions the feet cannot
tell apart (a take on one spot, a straight walk's tilt across its line) stay at the prior.

The priors are the calibration world's axes along which the actor stands upright for a
while (pelvis -> neck within ``UPRIGHT_DEG`` in ``UPRIGHT_SHARE`` of the frames) and the
body's median up direction; the search runs from each and the best-supported result wins.
Mocap systems and calibration boards laid on the floor put an axis along gravity, while the
body's median up leans with an actor who bends over (the bundled demo's actor bows and
lifts a leg behind: the median is 25 degrees off and a floor along it has the swinging foot
11 cm under it); a world that is a camera's frame has no axis the actor stands along. The
plane passes through the lowest per-point contact level (points that are never slow do not
count), so planted feet stand on it, never in it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .contacts import ContactOptions, contact_levels, foot_points, horizontal_speed
from .orientation import Z_AXIS, normalize, swing

#: Largest angle (degrees) between the floor's normal and its prior up direction.
MAX_TILT_DEG = 25.0
#: A calibration axis is a candidate prior when the body stands within this angle (degrees)
#: of it in at least ``UPRIGHT_SHARE`` of the frames.
UPRIGHT_DEG = 15.0
UPRIGHT_SHARE = 0.1
#: Per-frame lowest foot points higher than this above the floor count as this (metres).
SUPPORT_CAP_M = 0.05
#: Percentile of the per-frame lowest foot point heights that the floor passes through
#: while the normal is searched (a few frames of fit error may go below it).
SUPPORT_PERCENTILE = 3.0
#: Tie-break towards the prior: metres of support score per degree of tilt away from it.
PRIOR_WEIGHT_M_PER_DEG = 1e-3
#: Frames used for the search at most (a long take is strided).
MAX_SEARCH_FRAMES = 4000


@dataclass(frozen=True)
class Floor:
    """A floor plane ``up . p = offset``.

    Attributes:
        up: [3] unit normal pointing from the floor to the body.
        offset: metres.
        n_points: slow foot points (point-frames) the contact level came from.
        fitted_normal: True when the feet's support chose the normal (False: the take has no
            foot points, the first prior stands).
        prior: the prior the chosen normal was searched around: ``"calibration axis"`` or
            ``"body up"``.
    """

    up: np.ndarray
    offset: float
    n_points: int = 0
    fitted_normal: bool = False
    prior: str = "body up"

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


def _trunk_directions(joints3d: np.ndarray, joint_names: list[str]) -> np.ndarray:
    """[F', 3] unit pelvis -> neck (else -> head) directions of the frames that have them."""
    top = next((n for n in ("neck", "head", "nose") if n in joint_names), None)
    if top is None or "pelvis" not in joint_names:
        return np.zeros((0, 3))
    d = normalize(joints3d[:, joint_names.index(top)] - joints3d[:, joint_names.index("pelvis")])
    return d[np.isfinite(d).all(-1) & (np.linalg.norm(d, axis=-1) > 0.5)]


def body_up(joints3d: np.ndarray, joint_names: list[str]) -> np.ndarray:
    """[3] the median pelvis -> neck (else -> head) direction of the take."""
    d = _trunk_directions(joints3d, joint_names)
    return normalize(np.median(d, axis=0)) if len(d) else Z_AXIS.copy()


def prior_ups(joints3d: np.ndarray, joint_names: list[str]) -> list[tuple[np.ndarray, str]]:
    """Candidate prior up directions [3] with their source: each calibration axis along
    which the body stands upright (pelvis -> neck within ``UPRIGHT_DEG``) in at least
    ``UPRIGHT_SHARE`` of the frames, nearest the body's median up first, then that median."""
    body = body_up(joints3d, joint_names)
    axes = np.concatenate([np.eye(3), -np.eye(3)])
    d = _trunk_directions(joints3d, joint_names)  # [F', 3]
    near = np.zeros(len(axes), bool)
    if len(d):
        share = (d @ axes.T > np.cos(np.radians(UPRIGHT_DEG))).mean(axis=0)
        near = share >= UPRIGHT_SHARE
    order = [i for i in np.argsort(-(axes @ body)) if near[i]]
    return [(axes[i], "calibration axis") for i in order] + [(body, "body up")]


def support_score(P: np.ndarray, normals: np.ndarray) -> np.ndarray:
    """[N] mean height (m, capped) of each frame's lowest foot point above the floor that
    passes through their low percentile, for candidate normals [N, 3]; P [F, K, 3]."""
    low = np.min(np.einsum("fkc,nc->nfk", P, normals), axis=2)  # [N, F]
    floor = np.percentile(low, SUPPORT_PERCENTILE, axis=1, keepdims=True)
    return np.minimum(low - floor, SUPPORT_CAP_M).mean(axis=1)


def _tangent_basis(n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    e1 = normalize(np.cross(n, Z_AXIS if abs(n[2]) < 0.9 else np.array([1.0, 0, 0])))
    return e1, np.cross(n, e1)


def support_normal(P: np.ndarray, prior: np.ndarray) -> tuple[np.ndarray, float]:
    """The normal [3] within ``MAX_TILT_DEG`` of ``prior`` that best supports the foot
    points P [F, K, 3] (coarse-to-fine grid over the two tilt angles), and its score
    (support score plus the tilt's tie-break, metres)."""
    e1, e2 = _tangent_basis(prior)
    centre, best, best_score = np.zeros(2), prior, np.inf
    for step in (5.0, 1.0, 0.2):  # degrees
        offsets = np.radians(np.arange(-5, 6) * step)
        a, b = (centre[:, None, None] + np.stack(np.meshgrid(offsets, offsets))).reshape(2, -1)
        keep = np.hypot(a, b) <= np.radians(MAX_TILT_DEG) + 1e-12
        a, b = a[keep], b[keep]
        normals = normalize(prior + np.tan(a)[:, None] * e1 + np.tan(b)[:, None] * e2)
        tilt = np.degrees(np.arccos(np.clip(normals @ prior, -1, 1)))
        score = support_score(P, normals) + PRIOR_WEIGHT_M_PER_DEG * tilt
        i = int(np.argmin(score))
        centre, best, best_score = np.array([a[i], b[i]]), normals[i], float(score[i])
    return best, best_score


def estimate_floor(joints3d: np.ndarray, joint_names: list[str], fps: float,
                   opts: ContactOptions | None = None) -> Floor:
    """The floor under a take's feet (see the module docstring).

    Args:
        joints3d: [F, J, 3] gap-filled joints, metres.
    """
    opts = opts or ContactOptions()
    priors = prior_ups(joints3d, joint_names)
    pts = foot_points(joint_names, "left") + foot_points(joint_names, "right")
    if not pts:
        prior, source = priors[0]
        return Floor(prior, float(np.nanmin(joints3d @ prior)), prior=source)
    P = joints3d[:, [joint_names.index(n) for n in pts]]  # [F, K, 3]
    S = P[np.isfinite(P).all(axis=(1, 2))]
    if len(S) > MAX_SEARCH_FRAMES:
        S = S[np.linspace(0, len(S) - 1, MAX_SEARCH_FRAMES).astype(int)]
    if len(S) >= 3:
        found = [(*support_normal(S, prior), prior, source) for prior, source in priors]
        up, _, _, source = min(found, key=lambda c: c[1])
    else:
        up, source = priors[0]
    fitted = len(S) >= 3
    h = P @ up
    v = horizontal_speed(P, up, fps, opts.speed_window)
    levels, seen = contact_levels(h, v, opts)
    offset = levels[seen].min() if seen.any() else levels.min()
    return Floor(up, float(offset), int(np.count_nonzero(v < opts.enter_speed)), fitted, source)
