"""Reject triangulated joints whose bones disagree with the actor's skeleton.

One actor keeps the same bone lengths for the whole take. A joint triangulated from two
views, one of them wrong, lands anywhere along the good view's ray; its bones to the
neighbouring joints then have lengths far from the take's typical ones. Such joints are
better left undetermined (and bridged from neighbouring frames when the gap is short)
than fitted where they are.
"""

from __future__ import annotations

import numpy as np

from .metrics import bone_lengths

#: A bone is implausible when its length differs from the take's typical length by more
#: than ``max(REL_TOLERANCE x L, ABS_TOLERANCE_M)``.
REL_TOLERANCE = 0.25
ABS_TOLERANCE_M = 0.04
#: ... or by more than N_SIGMA robust standard deviations of that bone's length.
N_SIGMA = 4.0
#: Bones shorter than this (face, feet) only bound the reach of their joints: detectors
#: place such keypoints by definitions that differ between views, so their lengths vary
#: more than the tolerance even when nothing is wrong.
MIN_BONE_M = 0.15
#: Frames checked at once (the checks are per frame).
_BLOCK = 512


def reach_limits(
    bones: np.ndarray,  # [B, 2] joint indices
    lengths: np.ndarray,  # [B] metres, NaN = unknown
    n_joints: int,
) -> np.ndarray:  # [J, J] metres, NaN where unknown or not linked
    """Longest possible distance between two joints: the summed lengths of the shortest
    bone path linking them (a joint cannot be farther than its limbs reach)."""
    D = np.full((n_joints, n_joints), np.inf)
    np.fill_diagonal(D, 0.0)
    for (a, b), L in zip(np.asarray(bones, dtype=int).reshape(-1, 2), lengths):
        if np.isfinite(L):
            D[a, b] = D[b, a] = min(D[a, b], float(L))
    for k in range(n_joints):  # Floyd-Warshall
        D = np.minimum(D, D[:, k:k + 1] + D[k:k + 1, :])
    return np.where(np.isfinite(D), D, np.nan)


def check_bones(
    X: np.ndarray,  # [F, J, 3] metres, NaN where unknown
    bones: np.ndarray,  # [B, 2] joint indices
    lengths: np.ndarray,  # [B] typical bone lengths (m), NaN = unknown
    candidates: np.ndarray,  # [F, J] bool: joints that may be rejected
    rel_tolerance: float = REL_TOLERANCE,
    abs_tolerance_m: float = ABS_TOLERANCE_M,
    spread: np.ndarray | None = None,  # [B] robust spread of each bone's length (m)
    n_sigma: float = N_SIGMA,
    min_bone_m: float = MIN_BONE_M,
) -> tuple[np.ndarray, np.ndarray]:  # [F, J] rejected, [F, J] rejected out of reach
    """Candidate joints to reject, frame by frame, greedily; and which of them were out of
    reach of another joint when rejected (gross errors, not just a bone off).

    Two kinds of evidence, both with tolerance ``max(rel x L, abs)``:

    - bones: a bone whose length is off from its typical length is *bad* (the tolerance is
      at least ``n_sigma`` x the bone's ``spread`` over the take: joints that jitter a lot
      in every frame, such as faces seen small, are judged by their own jitter);
    - reach: two joints not linked by a bone (or linked by a bone shorter than
      ``min_bone_m``) are *out of reach* when they are farther apart than the bone path
      between them (:func:`reach_limits`) allows.

    A joint is suspect when more than half of its checked bones are bad, or when some joint
    is out of its reach. Each round sets aside, in every frame, the suspect with the
    largest summed relative excess over all its bad bones and reaches, then re-checks
    without it: a wrong joint makes its good neighbours look bad too (but they are each
    involved in fewer violations), and setting it aside clears them. The joints set aside
    that are ``candidates`` are rejected; the others only stop blaming their neighbours.
    """
    X = np.asarray(X, dtype=float)
    cand = np.asarray(candidates, dtype=bool)
    out = np.zeros(X.shape[:2], dtype=bool)
    gross = np.zeros(X.shape[:2], dtype=bool)
    for s in range(0, X.shape[0], _BLOCK):  # frames are independent: bounded memory
        e = s + _BLOCK
        out[s:e], gross[s:e] = _check_block(X[s:e], bones, lengths, cand[s:e], rel_tolerance,
                                            abs_tolerance_m, spread, n_sigma, min_bone_m)
    return out, gross


def _check_block(
    X: np.ndarray,  # [F, J, 3]
    bones: np.ndarray,  # [B, 2]
    lengths: np.ndarray,  # [B]
    candidates: np.ndarray,  # [F, J]
    rel_tolerance: float,
    abs_tolerance_m: float,
    spread: np.ndarray | None,
    n_sigma: float,
    min_bone_m: float,
) -> tuple[np.ndarray, np.ndarray]:  # [F, J] bool x 2
    F, J = X.shape[:2]
    bones = np.asarray(bones, dtype=int).reshape(-1, 2)
    L = np.asarray(lengths, dtype=float)
    known = np.isfinite(X).all(-1)
    cand = np.asarray(candidates, dtype=bool) & known
    if not cand.any() or not np.isfinite(L).any():
        return np.zeros((F, J), dtype=bool), np.zeros((F, J), dtype=bool)
    reach = reach_limits(bones, L, J)
    pairs = np.array([(a, b) for a in range(J) for b in range(a + 1, J)
                      if np.isfinite(reach[a, b])], dtype=int).reshape(-1, 2)
    is_bone = np.zeros(len(pairs), dtype=bool)
    limit = reach[pairs[:, 0], pairs[:, 1]]  # [P]
    ok = np.isfinite(L)
    sd = np.zeros(len(L)) if spread is None else np.nan_to_num(np.asarray(spread, float))
    bone_set = {(min(a, b), max(a, b)): (Lb, sb)
                for (a, b), Lb, sb in zip(bones[ok], L[ok], sd[ok])}
    jitter = np.zeros(len(pairs))
    for i, (a, b) in enumerate(pairs):
        if (a, b) in bone_set and bone_set[(a, b)][0] >= min_bone_m:
            is_bone[i] = True
            limit[i], jitter[i] = bone_set[(a, b)]
    tol = np.maximum(np.maximum(rel_tolerance * limit, abs_tolerance_m),
                     n_sigma * jitter)  # [P]
    dist = bone_lengths(X, pairs)  # [F, P]
    excess = np.where(is_bone, np.abs(dist - limit), dist - limit)
    bad_all = excess > tol
    rel = np.where(bad_all, excess / np.maximum(limit, abs_tolerance_m), 0.0)
    inc = np.zeros((len(pairs), J))
    inc[np.arange(len(pairs)), pairs[:, 0]] = 1.0
    inc[np.arange(len(pairs)), pairs[:, 1]] = 1.0
    inc_bone, inc_reach = inc * is_bone[:, None], inc * ~is_bone[:, None]
    rows = np.arange(F)
    set_aside = np.zeros((F, J), dtype=bool)  # worst suspects, rejected if candidates
    gross = np.zeros((F, J), dtype=bool)
    for _ in range(J):
        alive = known & ~set_aside
        checked = alive[:, pairs[:, 0]] & alive[:, pairs[:, 1]]  # [F, P]
        bad = checked & bad_all
        n_bone = checked @ inc_bone  # [F, J]
        bad_bone, bad_reach = bad @ inc_bone, bad @ inc_reach
        suspect = alive & (((bad_bone > 0) & (2 * bad_bone > n_bone)) | (bad_reach > 0))
        if not suspect.any():
            break
        score = np.where(suspect, np.where(checked, rel, 0.0) @ inc, -1.0)
        worst = score.argmax(1)
        hit = suspect[rows, worst]
        set_aside[rows[hit], worst[hit]] = True
        gross[rows[hit], worst[hit]] = bad_reach[rows[hit], worst[hit]] > 0
    return set_aside & cand, gross & cand
