"""Planted feet that stay put: lock each planted point, move the foot there, bend the leg by
analytic two-bone IK.

For every run of frames where a foot point (heel, toe) is planted, its target is its median
horizontal position over the run (re-planted when a pivoting or shuffling point wanders off
by more than ``replant_m``) at the run's contact height (a point rising more than
``rise_m`` above it, a heel coming off, rises by the excess), never below the floor: a fit
that sinks a foot through the floor for a whole contact would otherwise hold it there. Per
frame, the foot (ankle bone) is placed so its planted points land on their targets: with
heel and toe both planted the foot also turns so its heel -> toe line runs through both
targets (toe target moved along that line to the rigid foot length); with one planted point
the foot keeps its fitted rotation and only moves. The ankle's shift fades in and out over
``blend_frames`` around each contact; outside contacts, a foot point below the floor lifts
the foot out of it. The thigh and shin then reach the new ankle with the knee in the fitted bend
plane (two-bone IK, lengths of the rigid skeleton), the knee moving at most ``knee_slack_m``
for a lock (near full extension IK would swing it by centimetres for millimetres of noise;
the foot falls a little short instead) and freely to lift a foot out of the floor.

Works in a floor-aligned world (+Z up). Shapes: F frames, J joints, B bones.
"""

from __future__ import annotations

import numpy as np

from .armature import RigPlan, RigPose, forward_kinematics
from .contacts import FootContacts, frames_to_nearest, runs
from .orientation import normalize, smoothstep, swing


def _blend_weights(contact: np.ndarray, blend_frames: int) -> np.ndarray:
    """[F] 1 during contact, easing to 0 over ``blend_frames`` frames on either side."""
    if not contact.any():
        return np.zeros(len(contact))
    dist = frames_to_nearest(contact)
    if blend_frames <= 0:
        return (dist == 0).astype(float)
    return 1.0 - smoothstep(dist, 0.0, blend_frames + 1.0)


def _nearest_true(flags: np.ndarray) -> np.ndarray:
    """[F] index of the nearest True frame (flags must have one)."""
    idx = np.flatnonzero(flags)
    if not len(idx):
        return np.zeros(len(flags), dtype=int)
    pos = np.searchsorted(idx, np.arange(len(flags)))
    lo = idx[np.clip(pos - 1, 0, len(idx) - 1)]
    hi = idx[np.clip(pos, 0, len(idx) - 1)]
    f = np.arange(len(flags))
    return np.where(np.abs(f - lo) <= np.abs(hi - f), lo, hi)


def two_bone_ik(hip: np.ndarray, knee: np.ndarray, target: np.ndarray, upper: float,
                lower: float, knee_slack_m: float | np.ndarray = np.inf
                ) -> tuple[np.ndarray, np.ndarray]:
    """Knee and ankle positions [F, 3] that reach ``target`` from ``hip`` with segment
    lengths ``upper`` and ``lower``, keeping the knee on the side of the current ``knee``.

    The knee moves at most ``knee_slack_m`` (scalar or [F]) from ``knee``; the shin then
    aims at the target
    (near full extension a millimetre of reach swings the knee by centimetres, and noisy fits
    ask for that; the foot then falls a little short instead).
    """
    to = target - hip
    reach = np.linalg.norm(to, axis=-1)
    d = np.clip(reach, abs(upper - lower) + 1e-6, (upper + lower) * (1 - 1e-9))
    u = normalize(to)
    pole = knee - hip
    v = normalize(pole - np.sum(pole * u, -1, keepdims=True) * u)
    cos_a = np.clip((upper ** 2 + d ** 2 - lower ** 2) / (2 * upper * d), -1, 1)
    new_knee = hip + upper * (cos_a[:, None] * u + np.sqrt(1 - cos_a ** 2)[:, None] * v)
    move = new_knee - knee
    size = np.linalg.norm(move, axis=-1)
    slack = np.broadcast_to(np.asarray(knee_slack_m, dtype=float), size.shape)
    if np.any(size > slack):
        move *= np.minimum(1.0, slack / np.maximum(size, 1e-12))[:, None]
        new_knee = hip + upper * normalize(knee + move - hip)
    new_ankle = new_knee + lower * normalize(target - new_knee)
    return new_knee, new_ankle


def _segments(xy: np.ndarray, radius: float) -> list[tuple[int, int]]:
    """Split a planted run [n, 2] where the point wanders more than ``radius`` from where
    the current segment started (a foot that pivots or shuffles is re-planted)."""
    kernel = np.ones(5) / 5.0  # judge the wander on a 5-frame mean (noise averages out)
    pad = np.pad(xy, ((2, 2), (0, 0)), mode="edge")
    xy = np.stack([np.convolve(pad[:, c], kernel, mode="valid") for c in range(2)], 1)
    out, start = [], 0
    for f in range(1, len(xy)):
        if np.linalg.norm(xy[f] - xy[start]) > radius:
            out.append((start, f))
            start = f
    out.append((start, len(xy)))
    return out


def lock_feet(plan: RigPlan, pose: RigPose, contacts: dict[str, FootContacts],
              blend_frames: int = 3, replant_m: float = 0.03, rise_m: float = 0.015,
              knee_slack_m: float = 0.03) -> RigPose:
    """A copy of ``pose`` with planted feet locked (see the module docstring)."""
    names, rest = plan.joint_names, plan.joint_rest
    bones = plan.bone_names
    P = forward_kinematics(plan, pose)
    rot = pose.rotations.copy()
    for side, fc in contacts.items():
        need = [f"{side}_hip", f"{side}_knee", f"{side}_ankle"]
        if not all(n in names and n in bones for n in need):
            continue
        ih, ik, ia = (names.index(n) for n in need)
        bh, bk, ba = (bones.index(n) for n in need)
        pts = [names.index(n) for n in fc.points]
        F = P.shape[0]
        targets = np.full((F, len(pts), 3), np.nan)
        for k, j in enumerate(pts):
            for a, b in runs(fc.planted[:, k]):
                for c, d in _segments(P[a:b, j, :2], replant_m):
                    targets[a + c:a + d, k, :2] = np.median(P[a + c:a + d, j, :2], axis=0)
                # Height: the run's contact height, on or above the floor; a point rising more
                # than ``rise_m`` above it (heel-off) rises by the excess, so noise never lifts
                # a planted point.
                level = max(float(np.median(P[a:b, j, 2])), 0.0)
                targets[a:b, k, 2] = level + np.maximum(0.0, P[a:b, j, 2] - level - rise_m)
        ankle_new = P[:, ia].copy()
        R_ank = rot[:, ba].copy()
        planted = fc.planted
        both = planted.all(axis=1) if len(pts) == 2 and ia not in pts else np.zeros(F, bool)
        if both.any():  # the toe's target at the rigid heel-toe distance from the heel's
            foot = np.linalg.norm(rest[pts[1]] - rest[pts[0]])
            heel = targets[both, 0]
            targets[both, 1] = heel + foot * normalize(targets[both, 1] - heel)
        if both.any():
            h, t = pts
            rest_ht = rest[t] - rest[h]
            have = np.einsum("fij,j->fi", rot[both, ba], rest_ht)
            want = targets[both, 1] - targets[both, 0]
            R_ank[both] = swing(have, want) @ rot[both, ba]
            ankle_new[both] = targets[both, 0] - np.einsum("fij,j->fi", R_ank[both],
                                                           rest[h] - rest[ia])
        for k, j in enumerate(pts):
            one = planted[:, k] & ~both
            if j == ia:
                ankle_new[one] = targets[one, k]
            elif one.any():
                ankle_new[one] = targets[one, k] - np.einsum("fij,j->fi", rot[one, ba],
                                                             rest[j] - rest[ia])
        contact = fc.contact
        shift = ankle_new - P[:, ia]
        near = _nearest_true(contact)
        weight = _blend_weights(contact, blend_frames)
        shift = np.where(contact[:, None], shift, shift[near] * weight[:, None])
        # A swinging foot never goes below the floor (Z = 0): lift it by its deepest point.
        foot = np.concatenate([P[:, pts, 2], P[:, [ia], 2]], axis=1) + shift[:, 2:3]
        lift = np.where(contact, 0.0, np.maximum(0.0, -foot.min(axis=1)))
        shift[:, 2] += lift
        moving = (weight > 0) | (np.abs(shift).max(axis=1) > 0)
        target = P[moving, ia] + shift[moving]
        upper = np.linalg.norm(rest[ik] - rest[ih])
        lower = np.linalg.norm(rest[ia] - rest[ik])
        slack = np.where(lift[moving] > 0, np.inf, knee_slack_m)  # the floor wins
        knee, ankle = two_bone_ik(P[moving, ih], P[moving, ik], target, upper, lower, slack)
        rot[moving, bh] = swing(P[moving, ik] - P[moving, ih], knee - P[moving, ih]) \
            @ rot[moving, bh]
        rot[moving, bk] = swing(P[moving, ia] - P[moving, ik], ankle - knee) @ rot[moving, bk]
        rot[:, ba] = np.where(contact[:, None, None], R_ank, rot[:, ba])
    return RigPose(pose.root.copy(), rot)
