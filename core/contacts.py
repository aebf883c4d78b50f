"""Foot contacts: when a foot point (heel, toe) is planted on the floor.

A point is planted while it is low and slow, with hysteresis so noise near the thresholds
does not flicker: it becomes planted when its height above its own contact level is under
``enter_height`` *and* its horizontal speed under ``enter_speed``, and stays planted until the
height exceeds ``exit_height`` *or* the speed exceeds ``exit_speed``. Runs shorter than
``min_frames`` are dropped. A foot is in contact while any of its points is planted.

Heights are measured along the floor's up direction; each point's contact level is the
median height of its lowest slow frames (a heel marker sits higher above the sole than a toe
marker). Speeds are central differences over ``2 * speed_window`` frames (noise averages
out; a planted point's true speed is zero).

Shapes: F frames, K foot points.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Foot points per side, best first; the ankle stands in when a set has no foot points.
FOOT_POINTS = {"left": ("left_heel", "left_toe"), "right": ("right_heel", "right_toe")}
ANKLES = {"left": "left_ankle", "right": "right_ankle"}


@dataclass(frozen=True)
class ContactOptions:
    """Thresholds of contact detection (metres, metres per second, frames)."""

    enter_height: float = 0.04
    exit_height: float = 0.07
    enter_speed: float = 0.25
    exit_speed: float = 0.45
    min_frames: int = 3
    speed_window: int = 2


@dataclass
class FootContacts:
    """Contacts of one foot.

    Attributes:
        points: K joint names (heel, toe; or the ankle when the set has neither).
        planted: [F, K] bool, per point.
        levels: [K] contact level of each point (height above the floor when planted, m).
    """

    points: list[str]
    planted: np.ndarray
    levels: np.ndarray

    @property
    def contact(self) -> np.ndarray:
        """[F] bool: the foot touches the floor (any point planted)."""
        return self.planted.any(axis=1)


def foot_points(joint_names: list[str], side: str) -> list[str]:
    """The joints that stand for one foot's contact points."""
    pts = [n for n in FOOT_POINTS[side] if n in joint_names]
    return pts or ([ANKLES[side]] if ANKLES[side] in joint_names else [])


def horizontal_speed(P: np.ndarray, up: np.ndarray, fps: float, window: int = 2) -> np.ndarray:
    """[F, ...] horizontal speed (m/s) of positions P [F, ..., 3] (central differences over
    ``2 * window`` frames, one-sided at the ends)."""
    F = P.shape[0]
    if F < 2:
        return np.zeros(P.shape[:-1])
    t = np.arange(F)
    a, b = np.clip(t - window, 0, F - 1), np.clip(t + window, 0, F - 1)
    d = P[b] - P[a]
    d = d - np.sum(d * up, -1, keepdims=True) * up
    span = np.maximum(b - a, 1).reshape(-1, *([1] * (P.ndim - 2)))
    return np.linalg.norm(d, axis=-1) / span * fps


def hysteresis(height: np.ndarray, speed: np.ndarray, opts: ContactOptions) -> np.ndarray:
    """[F] planted flags of one point from its height above its level and its speed."""
    enter = (height < opts.enter_height) & (speed < opts.enter_speed)
    leave = (height > opts.exit_height) | (speed > opts.exit_speed)
    out = np.zeros(len(height), dtype=bool)
    state = False
    for f in range(len(height)):
        state = (not leave[f]) if state else bool(enter[f])
        out[f] = state
    return drop_short_runs(out, opts.min_frames)


def runs(flags: np.ndarray) -> list[tuple[int, int]]:
    """(start, stop) half-open index ranges of the True runs of a [F] bool array."""
    padded = np.concatenate([[False], np.asarray(flags, bool), [False]])
    edges = np.flatnonzero(np.diff(padded.astype(int)))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist()))


def frames_to_nearest(flags: np.ndarray) -> np.ndarray:
    """[F] float: frames from each frame to the nearest True one of a [F] bool array that has
    one (0 on True frames). Two passes, O(F) memory."""
    flags = np.asarray(flags, bool)
    F = len(flags)
    idx = np.arange(F)
    before = np.maximum.accumulate(np.where(flags, idx, -2 * F))
    after = np.minimum.accumulate(np.where(flags, idx, 3 * F)[::-1])[::-1]
    return np.minimum(idx - before, after - idx).astype(float)


def drop_short_runs(flags: np.ndarray, min_frames: int) -> np.ndarray:
    out = np.array(flags, dtype=bool)
    for a, b in runs(out):
        if b - a < min_frames:
            out[a:b] = False
    return out


def contact_levels(heights: np.ndarray, speeds: np.ndarray, opts: ContactOptions
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Contact level per point: median height of its slow frames that lie within 5 cm of
    its lowest slow frames (a foot that only passes low while moving fast, a fit error or a
    swing, does not set it).

    Returns:
        levels [K] (metres; the 5th height percentile for a point never slow) and
        slow [K] bool (whether the point had slow frames).
    """
    K = heights.shape[1]
    levels, seen = np.zeros(K), np.zeros(K, bool)
    for k in range(K):
        h, v = heights[:, k], speeds[:, k]
        slow = v < opts.enter_speed
        if not slow.any():
            levels[k] = np.percentile(h, 5)
            continue
        low = slow & (h < np.percentile(h[slow], 5) + 0.05)
        levels[k], seen[k] = np.median(h[low]), True
    return levels, seen


def detect_contacts(joints3d: np.ndarray, joint_names: list[str], up: np.ndarray,
                    floor_offset: float, fps: float, opts: ContactOptions | None = None
                    ) -> dict[str, FootContacts]:
    """Contacts of both feet.

    Args:
        joints3d: [F, J, 3] metres.
        up: [3] unit floor normal; floor_offset: ``up . p`` on the floor.
        fps: frames per second (speeds are in m/s, so thresholds hold at any rate).
    """
    opts = opts or ContactOptions()
    out = {}
    for side in ("left", "right"):
        pts = foot_points(joint_names, side)
        if not pts:
            continue
        P = joints3d[:, [joint_names.index(n) for n in pts]]  # [F, K, 3]
        h = P @ up - floor_offset
        v = horizontal_speed(P, up, fps, opts.speed_window)
        levels, _ = contact_levels(h, v, opts)
        planted = np.stack([hysteresis(h[:, k] - levels[k], v[:, k], opts)
                            for k in range(len(pts))], axis=1)
        out[side] = FootContacts(pts, planted, levels)
    return out


def precision_recall(found: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    """Frame-wise precision and recall of contact flags."""
    found, truth = np.asarray(found, bool), np.asarray(truth, bool)
    tp = float((found & truth).sum())
    return (tp / max(found.sum(), 1), tp / max(truth.sum(), 1))
