"""Multi-view left/right swap correction of 2D detections.

Single-view detectors sometimes label a person's left limbs as right (and the other way
round) in one view, for a whole body or only for the legs or the arms. Another view's
detections cannot be swapped by the same mistake at the same time in most frames, so each
view is checked against the others: for every frame, view and limb group the paired joints
are triangulated robustly from the *other* views only (leave-one-out), projected into the
view, and compared with its detections as detected and with every left/right pair of the
group exchanged. A group is flipped only when the exchanged labels are clearly better
(error below ``ratio`` x the error as detected, and below ``max_error_px``) and at least
``min_support`` other views agree on the reference points. Frames where the evidence
is weak (exchanged better, but not clearly) follow their clear neighbours in time when the
nearest clear decision before and after (within ``temporal_frames``) both are flips.
A group is never flipped in half or more of the views of a frame (that would mirror the
whole labelling: with two of four views swapped both labellings are equally consistent).

Everything is vectorised over frames, views and joints; the detections must be in ideal
(undistorted) pixels of ``rig.projection_matrices`` (see ``triangulation.undistort_keypoints``).
Long takes are processed in blocks of frames (each with ``temporal_frames`` frames of context
on both sides, the reach of the temporal rule), so memory does not grow with take length; the
decisions are the same as on the whole take at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .camera import Rig
from .skeletons import JointSet, get_joint_set
from .triangulation import DEFAULT_THRESHOLD_PX, reprojection_errors, triangulate_robust

#: Limb groups whose left/right pairs a detector tends to swap together, in order.
SWAP_GROUPS = ("arms", "legs", "face", "other")
#: Frames decided together by :func:`correct_swaps` (the working arrays are
#: [frames x views, 2 x pairs, ...]; ~10 MB for 200 frames of 4 views and body_25).
BLOCK_FRAMES = 200
#: Name fragments of each group, tested in this order (``foot_index`` is a leg joint).
_GROUP_WORDS = (
    ("legs", ("hip", "knee", "ankle", "heel", "toe", "foot")),
    ("arms", ("shoulder", "elbow", "wrist", "hand", "pinky", "index", "thumb", "finger")),
    ("face", ("eye", "ear", "mouth", "cheek", "brow")),
)


@dataclass
class SwapCorrection:
    """Result of :func:`correct_swaps`.

    Attributes:
        keypoints: [F, V, J, 3] the input detections with the flipped groups exchanged.
        flipped: [F, V, G] bool, group g of view v in frame f was exchanged.
        groups: the G group names (a subset of ``SWAP_GROUPS``, in that order).
        error_detected_px / error_flipped_px: [F, V, G] mean reprojection error (px) of the
            group's paired joints as detected / exchanged against the leave-one-out
            reference; NaN where there was no evidence.
    """

    keypoints: np.ndarray
    flipped: np.ndarray
    groups: tuple[str, ...]
    error_detected_px: np.ndarray
    error_flipped_px: np.ndarray

    @property
    def view_frames_flipped(self) -> np.ndarray:
        """[F, V] bool: any group of the view was exchanged in that frame."""
        return self.flipped.any(-1)


def swap_groups(joint_set: JointSet | str) -> tuple[tuple[str, ...], np.ndarray]:
    """The groups of a joint set's left/right pairs.

    Returns:
        the G group names present (in ``SWAP_GROUPS`` order) and [P] int, the group index of
        every row of ``joint_set.pair_indices``.
    """
    js = get_joint_set(joint_set)
    labels = []
    for left, _ in js.pairs:
        name = left.lower()
        labels.append(next((g for g, words in _GROUP_WORDS if any(w in name for w in words)),
                           "other"))
    names = tuple(g for g in SWAP_GROUPS if g in labels)
    return names, np.array([names.index(g) for g in labels], dtype=int)


def apply_flips(
    keypoints: np.ndarray,  # [F, V, J, C]
    flipped: np.ndarray,  # [F, V, G]
    joint_set: JointSet | str,
) -> np.ndarray:  # [F, V, J, C]
    """Exchange the left/right joints of every flipped (frame, view, group); a copy."""
    js = get_joint_set(joint_set)
    _, group = swap_groups(js)
    pairs = js.pair_indices
    out = np.array(keypoints, copy=True)
    if len(pairs) == 0:
        return out
    flip_pair = np.asarray(flipped, dtype=bool)[..., group]  # [F, V, P]
    left, right = pairs[:, 0], pairs[:, 1]
    m = flip_pair[..., None]
    out[:, :, left] = np.where(m, keypoints[:, :, right], keypoints[:, :, left])
    out[:, :, right] = np.where(m, keypoints[:, :, left], keypoints[:, :, right])
    return out


def _fill_temporal(state: np.ndarray, weak: np.ndarray, max_gap: int) -> np.ndarray:
    """[F, ...] states 1 (flip), 0 (keep), -1 (no clear decision); weak [F, ...] bool.

    Returns [F, ...] bool: weak entries whose nearest clear decisions before and after, each
    at most ``max_gap`` frames away, are both flips.
    """
    F = state.shape[0]
    if max_gap <= 0 or F < 3:
        return np.zeros(state.shape, dtype=bool)
    frames = np.arange(F).reshape((F,) + (1,) * (state.ndim - 1))
    clear = state >= 0
    last = np.maximum.accumulate(np.where(clear, frames, -1), axis=0)  # [F, ...]
    nxt = np.flip(np.minimum.accumulate(np.flip(np.where(clear, frames, F), 0), axis=0), 0)
    prev_state = np.take_along_axis(state, np.clip(last, 0, F - 1), 0)
    next_state = np.take_along_axis(state, np.clip(nxt, 0, F - 1), 0)
    before = (last >= 0) & (frames - last <= max_gap) & (prev_state == 1)
    after = (nxt < F) & (nxt - frames <= max_gap) & (next_state == 1)
    return weak & ~clear & before & after


def _group_errors(
    rig: Rig,
    original: np.ndarray,  # [F, V, J, 3]
    reference: np.ndarray,  # [F, V, J, 3]
    pairs: np.ndarray,  # [P, 2]
    group: np.ndarray,  # [P]
    n_groups: int,
    threshold_px: float,
    limit_px: float,
    min_support: int,
    min_confidence: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Summed pair errors as detected / exchanged and valid pair counts, each [F, V, G].

    For every (frame, view) the paired joints are triangulated from ``reference`` without
    the view itself; the errors are those of ``original`` in that view.
    """
    F, V = original.shape[:2]
    P = len(pairs)
    out = np.zeros((3, F, V, n_groups))
    fi, vi = np.nonzero(np.ones((F, V), dtype=bool))  # [n = F V] each
    idx = np.concatenate([pairs[:, 0], pairs[:, 1]])  # [2P] left then right
    idx_sw = np.concatenate([pairs[:, 1], pairs[:, 0]])
    # leave-one-out references: the robust all-view point when it did not use the view (or
    # used it, agreeing within the threshold, with min_support other views: a conservative
    # stand-in, its error as detected is smaller than without the view); an exact
    # leave-one-out triangulation otherwise
    ref = np.moveaxis(reference[:, :, idx], 1, 2)  # [F, 2P, V, 3]
    Xf, usedf, errf = triangulate_robust(rig, ref, threshold_px, 2, min_confidence,
                                         undistorted=True)  # [F, 2P, (3 | V)]
    X, used, err = Xf[fi], usedf[fi].copy(), errf[fi]  # [n, 2P, (3 | V)]
    rows = np.arange(len(fi))
    in_v = used[rows, :, vi]  # [n, 2P]
    close = np.nan_to_num(err[rows, :, vi], nan=np.inf) <= threshold_px
    weak = used.sum(-1) <= min_support  # with the view: too few others to vouch for it
    redo = (in_v & (~close | weak)) | ~np.isfinite(X).all(-1)
    used[rows, :, vi] = False
    if redo.any():
        ri, pi = np.nonzero(redo)
        loo = ref[fi[ri], pi].copy()  # [m, V, 3]
        loo[np.arange(len(ri)), vi[ri], 2] = 0.0
        X = X.copy()
        X[ri, pi], used[ri, pi], _ = triangulate_robust(
            rig, loo, threshold_px, 2, min_confidence, undistorted=True)
    err = np.where(used, errf[fi], np.nan)
    if redo.any():
        e_redo = reprojection_errors(rig.projection_matrices, X[ri, pi], loo[..., :2])
        err[ri, pi] = np.where(used[ri, pi], e_redo, np.nan)
    worst = np.max(np.where(used, np.nan_to_num(err, nan=np.inf), 0.0), axis=-1)
    reliable = (used.sum(-1) >= min_support) & (worst <= limit_px)  # [n, 2P]
    Pv = rig.projection_matrices[vi]  # [n, 3, 4]
    x = np.einsum("nij,npj->npi", Pv[:, :, :3], X) + Pv[:, None, :, 3]  # [n, 2P, 3]
    with np.errstate(divide="ignore", invalid="ignore"):
        proj = x[..., :2] / np.where(x[..., 2:] > 1e-12, x[..., 2:], np.nan)
    obs = original[fi, vi]  # [n, J, 3]
    conf = np.nan_to_num(obs[..., 2], nan=0.0)
    det = (conf > min_confidence) & np.isfinite(obs[..., :2]).all(-1)  # [n, J]
    e_det = np.linalg.norm(proj - obs[:, idx, :2], axis=-1)  # [n, 2P]
    e_sw = np.linalg.norm(proj - obs[:, idx_sw, :2], axis=-1)
    ok = reliable & det[:, idx] & np.isfinite(e_det) & np.isfinite(e_sw)
    pair_ok = ok[:, :P] & ok[:, P:]  # [n, P] both joints usable, both labels
    pe_det = np.where(pair_ok, e_det[:, :P] + e_det[:, P:], 0.0)
    pe_sw = np.where(pair_ok, e_sw[:, :P] + e_sw[:, P:], 0.0)
    onehot = np.eye(n_groups)[group]  # [P, G]
    for k, a in enumerate((pe_det, pe_sw, pair_ok.astype(float))):
        out[k, fi, vi] = a @ onehot
    return out[0], out[1], out[2]


def correct_swaps(
    rig: Rig,
    keypoints: np.ndarray,  # [F, V, J, 3]
    joint_set: JointSet | str,
    threshold_px: float = DEFAULT_THRESHOLD_PX,
    ratio: float = 0.5,
    max_error_px: float | None = None,
    min_support: int = 2,
    min_confidence: float = 0.0,
    temporal_frames: int = 2,
    passes: int = 3,
    block_frames: int | None = BLOCK_FRAMES,
) -> SwapCorrection:
    """Detect and undo left/right swaps of whole views or limb groups (see module docstring).

    Args:
        rig: the cameras, in the order of axis V.
        keypoints: [F, V, J, 3] undistorted pixels + confidence (0 / NaN = missing).
        joint_set: the layout of axis J (its ``pairs`` are the left/right twins).
        threshold_px: reprojection threshold of the leave-one-out robust triangulation.
        max_error_px: a flipped group's mean error must be below this (px), and every
            reference point must reproject within it in the views it was triangulated
            from; None = 3 x ``threshold_px`` (real detectors miss by 10-25 px on average,
            and a swapped limb by hundreds).
        ratio: flip when the exchanged error < ratio x the error as detected (and keep,
            clearly, when the detected error < ratio x the exchanged one).
        min_support: other views that must agree on each reference point (>= 2).
        temporal_frames: weak evidence follows clear flips at most this many frames away on
            both sides (0 = off).
        passes: at most this many rounds; each adds at most one flip per frame and group
            (the strongest), and the next round re-triangulates the references of the frames
            that changed from the corrected detections (a swapped view corrupts the other
            views' references; two views swapped in one frame need two rounds).
        block_frames: frames decided together (bounded memory on long takes; the result
            does not depend on it); None = the whole take at once.
    Returns:
        :class:`SwapCorrection` with the corrected [F, V, J, 3] keypoints and [F, V, G] flips.
    """
    js = get_joint_set(joint_set)
    kp = np.asarray(keypoints, dtype=float)
    if kp.ndim != 4 or kp.shape[1] != len(rig) or kp.shape[2] != js.n or kp.shape[3] != 3:
        raise ValueError(f"keypoints must be [F, {len(rig)}, {js.n}, 3] for {len(rig)} cameras "
                         f"and joint set {js.name}, got shape {kp.shape}")
    if min_support < 2:
        raise ValueError(f"min_support must be >= 2, got {min_support}")
    if block_frames is not None and block_frames < 1:
        raise ValueError(f"block_frames must be >= 1 or None, got {block_frames}")
    limit = 3.0 * threshold_px if max_error_px is None else float(max_error_px)
    groups, group = swap_groups(js)
    F, V = kp.shape[:2]
    G = len(groups)
    flipped = np.zeros((F, V, G), dtype=bool)
    e_det = np.full((F, V, G), np.nan)
    e_sw = np.full((F, V, G), np.nan)
    if G == 0 or V < 3 or F == 0:  # a view can only be checked against >= 2 others
        return SwapCorrection(kp.copy(), flipped, groups, e_det, e_sw)
    step = F if block_frames is None else int(block_frames)
    halo = max(int(temporal_frames), 0)  # frames the temporal rule looks across
    for s in range(0, F, step):
        e = min(F, s + step)
        a, b = max(0, s - halo), min(F, e + halo)
        fl, ed, es = _decide(rig, kp[a:b], js, group, G, threshold_px, ratio, limit,
                             min_support, min_confidence, temporal_frames, passes)
        flipped[s:e], e_det[s:e], e_sw[s:e] = fl[s - a:e - a], ed[s - a:e - a], es[s - a:e - a]
    return SwapCorrection(apply_flips(kp, flipped, js), flipped, groups, e_det, e_sw)


def _decide(
    rig: Rig,
    kp: np.ndarray,  # [F, V, J, 3]
    js: JointSet,
    group: np.ndarray,  # [P]
    G: int,
    threshold_px: float,
    ratio: float,
    limit: float,
    min_support: int,
    min_confidence: float,
    temporal_frames: int,
    passes: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The flips [F, V, G] and the errors as detected / exchanged [F, V, G] (px) of a run of
    consecutive frames (see :func:`correct_swaps`)."""
    F, V = kp.shape[:2]
    flipped = np.zeros((F, V, G), dtype=bool)
    e_det = np.full((F, V, G), np.nan)
    e_sw = np.full((F, V, G), np.nan)
    pairs = js.pair_indices
    rows = np.arange(F)
    for _ in range(max(1, passes)):
        if len(rows) == 0:
            break
        reference = apply_flips(kp[rows], flipped[rows], js)
        sd, ss, n = _group_errors(rig, kp[rows], reference, pairs, group, G, threshold_px,
                                  limit, min_support, min_confidence)
        with np.errstate(divide="ignore", invalid="ignore"):
            e_det[rows] = np.where(n > 0, sd / (2 * n), np.nan)
            e_sw[rows] = np.where(n > 0, ss / (2 * n), np.nan)
        has = n > 0
        flip_g = has & (ss < ratio * sd) & (ss < 2 * n * limit)
        keep_g = has & (sd < ratio * ss)
        # whole view: all pairs together (groups without own evidence follow it)
        sd_v, ss_v, n_v = sd.sum(-1), ss.sum(-1), n.sum(-1)
        flip_v = (n_v >= 2) & (ss_v < ratio * sd_v) & (ss_v < 2 * n_v * limit)
        cand = flip_g | (flip_v[..., None] & ~keep_g)  # [f, V, G]
        # evidence (px of error removed): the whole view's when it flips as a whole
        strength = np.maximum(np.where(flip_g, sd - ss, 0.0),
                              np.where(flip_v, sd_v - ss_v, 0.0)[..., None])
        # one swapped view corrupts the others' references: per frame and group, add only
        # the strongest new flip; the next pass re-checks the rest with corrected references
        fresh = cand & ~flipped[rows]
        best = np.argmax(np.where(fresh, strength, -1.0), axis=1)  # [f, G]
        chosen = np.zeros_like(fresh)
        np.put_along_axis(chosen, best[:, None], True, axis=1)
        new = (flipped[rows] & cand) | (fresh & chosen)
        changed = (new != flipped[rows]).any((-1, -2))
        flipped[rows] = new
        rows = rows[changed]  # frames whose references change in the next pass
    # temporal: weak evidence between clear flips of the same view and group
    state = np.where(flipped, 1, -1)
    ratio_ok = np.isfinite(e_det) & np.isfinite(e_sw)
    state = np.where(ratio_ok & ~flipped & (e_det < ratio * e_sw), 0, state)
    weak = ratio_ok & (e_sw < e_det) & (e_sw < limit)
    flipped |= _fill_temporal(state, weak, temporal_frames)
    # half or more of the views flipped is a mirror-image labelling, not a correction (two
    # swapped views of four agree with each other as well as the other two do): leave as is
    seen = (np.isfinite(e_det) | flipped).sum(1)  # [F, G]
    flipped &= ~(2 * flipped.sum(1) >= seen)[:, None, :]
    return flipped, e_det, e_sw
