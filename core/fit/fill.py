"""Joints the fit left undetermined, placed under the take's skeleton.

A joint can end a fit undetermined although several views detect it: the bone check set its
triangulated point aside (out of reach of the others) and no bridge replaced it. A missing
ear or pelvis makes the whole head or torso unusable, so such a joint is placed at its bone
length from a determined neighbour, in the direction that best fits its detections: the
summed Cauchy reprojection cost over the detecting views, searched over a sphere of
directions and then around the best one, plus a temporal prior: the bone's direction in
the nearest frames where both joints are determined. However wrong the detections, the
joint lands no further from the truth than the bone is long.

Joints the skeleton does not reach (the face of COCO-17 and BlazePose, which their bones do
not link to the body) are placed the same way from their joint-set neighbours, at the
take's median distance between the two (:func:`off_skeleton_links`).
"""

from __future__ import annotations

import numpy as np

from ..camera import Rig
from ..triangulation import cauchy_cost, reprojection_errors
from .skeleton import Skeleton

#: Directions searched on the whole sphere (about 4.5 degrees apart), then around the best.
SPHERE_DIRECTIONS = 2000
#: Half-width of the second, local search, as a fraction of a unit direction (~6 degrees).
LOCAL_SPREAD = 0.1
#: Weight of the temporal prior: the squared distance between unit directions (0-4) to the
#: bone's direction interpolated from the nearest frames where both joints are determined,
#: in the units of one view's Cauchy cost (a 40 px-off view at confidence 1: about 2).
#: 1 / 3 / 10 / 30 / 100 on the 200-frame `noisy` benchmark take: ratio to the best
#: baseline 0.853 / 0.850 / 0.846 / 0.845 / 0.847 (none: 0.859); `heavy` 0.453 / 0.444 /
#: 0.442 / 0.442 / 0.443 (none: 0.482).
PRIOR_WEIGHT = 10.0
#: Frames in which both ends of an off-skeleton link must be determined for its length.
MIN_LINK_FRAMES = 10
#: Entries searched together (memory: entries x directions x views reprojections).
_BLOCK = 16


def sphere_directions(n: int = SPHERE_DIRECTIONS) -> np.ndarray:  # [n, 3]
    """``n`` unit vectors spread evenly over the sphere (Fibonacci lattice)."""
    i = np.arange(n) + 0.5
    polar = np.arccos(1 - 2 * i / n)
    azimuth = np.pi * (1 + 5**0.5) * i
    return np.stack([np.cos(azimuth) * np.sin(polar), np.sin(azimuth) * np.sin(polar),
                     np.cos(polar)], -1)


def _cauchy(P: np.ndarray, X: np.ndarray, uv: np.ndarray, conf: np.ndarray,
            scale_px: float) -> np.ndarray:
    """Confidence-weighted Cauchy cost [n, D] of candidates ``X`` [n, D, 3] against the
    detections ``uv`` [n, V, 2] with confidences ``conf`` [n, V] (0 = not detected)."""
    err = reprojection_errors(P, X, np.broadcast_to(uv[:, None], (*X.shape[:2], *uv.shape[1:])))
    return cauchy_cost(err, conf[:, None], scale_px)


def _best_directions(P: np.ndarray, anchor: np.ndarray, length: float, uv: np.ndarray,
                     conf: np.ndarray, scale_px: float, dirs: np.ndarray,
                     prior: np.ndarray | None = None, prior_weight: float = 0.0) -> np.ndarray:
    """The point at ``length`` from each ``anchor`` [n, 3] that best fits its detections
    (coarse search over ``dirs`` [D, 3], then a local one around the best), plus
    ``prior_weight`` x the squared distance (in bone lengths) to the ``prior`` directions
    [n, 3] (NaN: none). Returns [n, 3]."""
    def cost_of(d: np.ndarray) -> np.ndarray:  # d [n or 1, D, 3] -> [n, D]
        c = _cauchy(P, anchor[:, None] + length * d, uv, conf, scale_px)
        if prior is not None and prior_weight > 0:
            gap = np.nan_to_num(((d - prior[:, None]) ** 2).sum(-1), nan=0.0)
            c = c + prior_weight * gap
        return c

    best = dirs[np.argmin(cost_of(np.broadcast_to(dirs, (len(anchor), *dirs.shape))), -1)]
    local = best[:, None] + LOCAL_SPREAD * dirs[None]  # [n, D, 3]
    local /= np.linalg.norm(local, axis=-1, keepdims=True)
    local = np.concatenate([best[:, None], local], 1)
    pick = local[np.arange(len(local)), np.argmin(cost_of(local), -1)]
    return anchor + length * pick


def _direction_prior(joints: np.ndarray, valid: np.ndarray, anchor_j: int, j: int,
                     frames: np.ndarray) -> np.ndarray:  # [n, 3]
    """For each of ``frames``, the anchor->joint direction linearly interpolated in time
    between the nearest frames where both are determined (one side: that side's; none:
    NaN)."""
    both = np.nonzero(valid[:, anchor_j] & valid[:, j])[0]
    out = np.full((len(frames), 3), np.nan)
    if not len(both):
        return out
    d = joints[both, j] - joints[both, anchor_j]
    d /= np.linalg.norm(d, axis=-1, keepdims=True)
    nxt = np.searchsorted(both, frames)
    prv = np.clip(nxt - 1, 0, len(both) - 1)
    nxt = np.clip(nxt, 0, len(both) - 1)
    span = both[nxt] - both[prv]
    t = np.where(span > 0, (frames - both[prv]) / np.where(span > 0, span, 1), 0.0)
    t = np.clip(t, 0.0, 1.0)[:, None]
    out = (1 - t) * d[prv] + t * d[nxt]
    return out / np.maximum(np.linalg.norm(out, axis=-1, keepdims=True), 1e-9)


def off_skeleton_links(
    bones: np.ndarray,  # [B, 2] the joint set's bones (joint indices)
    skeleton: Skeleton,
    joints: np.ndarray,  # [F, J, 3] m, NaN where undetermined
    valid: np.ndarray,  # [F, J] bool
    min_frames: int = MIN_LINK_FRAMES,
) -> list[tuple[int, int, float]]:
    """(a, b, length m) for the joint set's bones with an end outside the skeleton (no
    skeleton bone touches it); the length is the median distance over the frames where both
    ends are determined (bones with fewer than ``min_frames`` such frames are left out)."""
    on_tree = np.zeros(valid.shape[1], bool)
    on_tree[np.asarray(skeleton.bones, dtype=int).ravel()] = True
    out = []
    for a, b in np.asarray(bones, dtype=int).reshape(-1, 2):
        if on_tree[a] and on_tree[b]:
            continue
        both = valid[:, a] & valid[:, b]
        if both.sum() >= min_frames:
            d = np.linalg.norm(joints[both, a] - joints[both, b], axis=-1)
            out.append((int(a), int(b), float(np.median(d))))
    return out


def fill_under_skeleton(
    joints: np.ndarray,  # [F, J, 3] m, NaN where undetermined (changed in place)
    valid: np.ndarray,  # [F, J] bool (changed in place)
    detections: np.ndarray,  # [F, J, V, 3] undistorted px and confidence
    rig: Rig,
    skeleton: Skeleton,
    scale_px: float,
    min_views: int = 2,
    min_confidence: float = 0.0,
    prior_weight: float = PRIOR_WEIGHT,
    extra_links: list[tuple[int, int, float]] = (),
) -> np.ndarray:  # [F, J] bool: the entries filled
    """Place every undetermined joint that ``min_views`` views detect at its bone length
    from a determined neighbour (parent first, then child, in the skeleton's tree order;
    then along ``extra_links`` (a, b, length m), see :func:`off_skeleton_links`).
    ``scale_px``: the Cauchy cost's scale; ``prior_weight``: that of the temporal prior
    (the bone's direction in the nearest determined frames; 0 = detections alone).
    """
    P = rig.projection_matrices
    uv_all = detections[..., :2]
    conf_all = np.where(np.isfinite(uv_all).all(-1), np.nan_to_num(detections[..., 2]), 0.0)
    conf_all = np.where(conf_all > min_confidence, conf_all, 0.0)
    seen = (conf_all > 0).sum(-1) >= min_views  # [F, J]
    filled = np.zeros_like(valid)
    dirs = sphere_directions()
    lengths = np.asarray(skeleton.lengths_m, dtype=float)
    links = [(int(p), int(c), L) for (p, c), L in zip(skeleton.bones, lengths)]
    links += [(c, p, L) for p, c, L in links]  # a missing parent is reached from its child
    links += [(int(a), int(b), L) for a, b, L in extra_links]
    links += [(int(b), int(a), L) for a, b, L in extra_links]
    for anchor_j, j, length in links:
        if not np.isfinite(length):
            continue
        todo = np.nonzero(~valid[:, j] & valid[:, anchor_j] & seen[:, j])[0]
        for s in range(0, len(todo), _BLOCK):
            f = todo[s:s + _BLOCK]
            prior = _direction_prior(joints, valid & ~filled, anchor_j, j, f) \
                if prior_weight > 0 else None
            joints[f, j] = _best_directions(P, joints[f, anchor_j], length, uv_all[f, j],
                                            conf_all[f, j], scale_px, dirs, prior,
                                            prior_weight)
            valid[f, j] = True
            filled[f, j] = True
    return filled
