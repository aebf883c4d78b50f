"""Suggest per-camera frame offsets from the 2D motion of detected keypoints.

Every camera sees the same actor move, so the *speed* of the 2D keypoints (image
displacement per frame, divided by the person's size in that view) rises and falls at the
same instants in every view even though directions differ. For each camera the speed
profile is standardised (zero mean, unit variance) and cross-correlated with the reference
camera's profile over lags ``-max_lag..max_lag`` (Pearson correlation on the overlapping
frames). The best lag is the suggested offset; its confidence is the peak ratio: the
correlation at the best lag divided by the highest other local maximum of the correlation
more than ``exclusion`` lags away (> ~1.5 is a clear peak, ~1 means ambiguous). A
suggestion is called reliable when the peak ratio is at least 1.5 *and* the correlation at
least 0.5 (a sharp peak of a weak correlation is usually detector jitter, not shared
motion) *and* the lag lies inside the searched range (not at +-max_lag).

With a calibration, :func:`estimate_offsets_geometric` instead picks the offsets that make
every camera pair's detections agree with the epipolar geometry; it also places views
whose 2D motion looks unlike the others' (the actor facing away from one camera).

Nothing here changes a take: :func:`estimate_offsets` returns a suggestion that the user
may apply (``read_take(..., offsets=suggestion.offsets)``).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from .camera import Rig
from .errors import KeypointError
from .keypoints.multiview import Keypoints2D

#: A suggested offset is called reliable when its peak ratio and its correlation reach these.
RELIABLE_PEAK_RATIO = 1.5
RELIABLE_CORRELATION = 0.5


@dataclass
class SyncSuggestion:
    """Suggested frame offsets relative to the offsets the keypoints were taken with.

    Attributes:
        reference: camera whose offset is 0.
        offsets: {camera: o}; add ``o`` to that camera's current offset (take frame ``t`` then
            reads video frame ``t + offset``).
        confidence: {camera: peak ratio} (inf when no other lag correlates positively).
        correlation: {camera: Pearson correlation at the best lag}.
        max_lag: the largest offset searched; a best lag at +-max_lag is never reliable
            (the true offset may lie beyond the search range).
    """

    reference: str
    offsets: dict[str, int]
    confidence: dict[str, float]
    correlation: dict[str, float]
    max_lag: int

    @property
    def reliable(self) -> dict[str, bool]:
        return {c: self.confidence[c] >= RELIABLE_PEAK_RATIO
                and self.correlation[c] >= RELIABLE_CORRELATION
                and abs(self.offsets[c]) < self.max_lag for c in self.offsets}

    def lines(self) -> list[str]:
        out = []
        for c, o in self.offsets.items():
            if c == self.reference:
                out.append(f"{c}: reference (offset 0)")
                continue
            tag = "reliable" if self.reliable[c] else "UNCERTAIN"
            if abs(o) >= self.max_lag:
                tag += f", at the search limit of {self.max_lag} frames"
            out.append(f"{c}: suggested offset {o:+d} frames (peak ratio "
                       f"{self.confidence[c]:.2f}, correlation {self.correlation[c]:.2f}, {tag})")
        return out


def speed_profile(
    keypoints: np.ndarray,   # [F, J, 3]  u, v px, confidence
    min_confidence: float = 0.3,
) -> np.ndarray:             # [F - 1]  standardised speed, 0 where unknown
    """Mean joint displacement per frame over the person's size, standardised.

    Only joints confident in both frames count; frames with none get 0 after
    standardisation (they neither add nor remove correlation).
    """
    kp = np.asarray(keypoints, dtype=float)
    if kp.ndim != 3 or kp.shape[-1] != 3:
        raise KeypointError(f"keypoints must be [frames, joints, 3], got {kp.shape}")
    ok = kp[..., 2] >= min_confidence                              # [F, J]
    uv = np.where(ok[..., None], kp[..., :2], np.nan)
    if not ok.any():
        return np.zeros(max(len(kp) - 1, 0))
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN frames are expected
        span = np.nanmax(uv, axis=1) - np.nanmin(uv, axis=1)       # [F, 2]
        size = np.nanmedian(np.linalg.norm(span, axis=-1))
        step = np.linalg.norm(np.diff(uv, axis=0), axis=-1)        # [F-1, J]
        speed = np.nanmean(step, axis=1) / max(size, 1e-9)
    known = np.isfinite(speed)
    if known.sum() < 2:
        return np.zeros_like(speed)
    mu, sd = speed[known].mean(), speed[known].std()
    return np.where(known, (speed - mu) / max(sd, 1e-12), 0.0)


def lag_correlation(
    ref: np.ndarray,         # [T]
    other: np.ndarray,       # [T]
    max_lag: int,
    min_overlap: int,
) -> np.ndarray:             # [2 max_lag + 1]  Pearson r per lag, -inf without overlap
    """``r[L + max_lag]`` = correlation of ``ref[t]`` with ``other[t + L]``."""
    T = len(ref)
    out = np.full(2 * max_lag + 1, -np.inf)
    for i, L in enumerate(range(-max_lag, max_lag + 1)):
        a = ref[max(0, -L): T - max(0, L)]
        b = other[max(0, L): T - max(0, -L)]
        n = min(len(a), len(b))
        if n < min_overlap:
            continue
        a, b = a[:n] - a[:n].mean(), b[:n] - b[:n].mean()
        den = np.sqrt((a * a).sum() * (b * b).sum())
        out[i] = float((a * b).sum() / den) if den > 0 else 0.0
    return out


def _second_peak(r: np.ndarray, best: int, exclusion: int) -> float:
    """Highest local maximum of ``r`` more than ``exclusion`` lags from ``best``."""
    padded = np.concatenate([[-np.inf], r, [-np.inf]])
    is_peak = (padded[1:-1] >= padded[:-2]) & (padded[1:-1] >= padded[2:]) & np.isfinite(r)
    far = np.abs(np.arange(len(r)) - best) > exclusion
    cand = r[is_peak & far]
    return float(cand.max()) if cand.size else -np.inf


def _reference_camera(names: list[str], reference: str | None) -> str:
    """The camera kept at offset 0 (default: the first); at least two cameras needed."""
    if len(names) < 2:
        raise KeypointError("synchronisation needs at least two cameras")
    ref = names[0] if reference is None else reference
    if ref not in names:
        raise KeypointError(f"reference camera {ref!r} is not one of {names}")
    return ref


def estimate_offsets(
    keypoints: Keypoints2D,
    reference: str | None = None,
    max_lag: int | None = None,
    min_confidence: float = 0.3,
    exclusion: int = 3,
) -> SyncSuggestion:
    """Suggest frame offsets that synchronise the cameras (see the module docstring).

    Args:
        keypoints: detections [F, V, J, 3] taken with the take's current offsets.
        reference: camera kept at offset 0 (default: the first).
        max_lag: largest offset tried (default ``F // 4``).
        exclusion: frames around the best lag ignored when finding the second peak.

    Raises:
        KeypointError: fewer than 2 cameras, too few frames, unknown reference camera.
    """
    F = keypoints.shape[0]
    names = list(keypoints.camera_names)
    ref = _reference_camera(names, reference)
    max_lag = F // 4 if max_lag is None else int(max_lag)
    if F < 8 or max_lag < 1 or F - 1 - max_lag < 4:
        raise KeypointError(f"{F} frames are too few to estimate offsets up to {max_lag} frames")
    profiles = {c: speed_profile(keypoints.data[:, v], min_confidence) for v, c in enumerate(names)}
    min_overlap = max(4, (F - 1) - max_lag)
    offsets, conf, corr = {}, {}, {}
    for c in names:
        if c == ref:
            offsets[c], conf[c], corr[c] = 0, float("inf"), 1.0
            continue
        r = lag_correlation(profiles[ref], profiles[c], max_lag, min_overlap)
        best = int(np.argmax(r))
        second = _second_peak(r, best, exclusion)
        offsets[c] = best - max_lag
        corr[c] = float(r[best])
        conf[c] = float(r[best] / second) if second > 1e-9 else float("inf")
    return SyncSuggestion(ref, offsets, conf, corr, max_lag)



def epipolar_lag_costs(
    rig: Rig,
    keypoints: Keypoints2D,
    max_lag: int,
    min_confidence: float = 0.5,
    moving_fraction: float = 0.2,
) -> dict[tuple[int, int], np.ndarray]:  # (a, b) a < b -> [2 max_lag + 1] px
    """Median symmetric epipolar distance (px) between camera a's frame t and camera b's
    frame t + L, for every pair and lag ``-max_lag..max_lag``, over the confident joints
    that move most (the fastest ``moving_fraction`` in either view: a lag changes nothing
    for a joint that stands still, whose error only blurs the minimum)."""
    kp = keypoints.aligned_to(rig)
    F, V, J = kp.shape
    conf = kp.data[..., 2]
    und = np.stack([c.undistort_points(kp.data[:, v, :, :2]) for v, c in enumerate(rig)], 1)
    h = np.concatenate([und, np.ones((F, V, J, 1))], -1)                   # [F, V, J, 3]
    ok = conf >= min_confidence
    # only joints that move: a lag changes nothing for a still joint
    step = np.linalg.norm(np.diff(und, axis=0), axis=-1)                   # [F-1, V, J]
    speed = np.concatenate([step[:1], np.maximum(step[1:], step[:-1]), step[-1:]], 0)
    speed = np.where(ok, speed, np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        cut = np.nanquantile(speed, 1 - moving_fraction, axis=(0, 2))      # [V]
    moving = ok & (speed >= cut[None, :, None])
    out = {}
    for a in range(V):
        for b in range(a + 1, V):
            ca, cb = rig[a], rig[b]
            R = cb.R @ ca.R.T
            t = cb.t - R @ ca.t
            tx = np.array([[0, -t[2], t[1]], [t[2], 0, -t[0]], [-t[1], t[0], 0]])
            Fm = np.linalg.inv(cb.K).T @ tx @ R @ np.linalg.inv(ca.K)
            cost = np.full(2 * max_lag + 1, np.inf)
            for i, L in enumerate(range(-max_lag, max_lag + 1)):
                ta = np.arange(max(0, -L), min(F, F - L))
                if len(ta) < 4:
                    continue
                xa, xb = h[ta, a], h[ta + L, b]                             # [T, J, 3]
                m = (moving[ta, a] | moving[ta + L, b]) & ok[ta, a] & ok[ta + L, b]
                if m.sum() < 10:
                    continue
                lb = xa @ Fm.T                                              # lines in b
                la = xb @ Fm                                                # lines in a
                num = np.abs(np.sum(xb * lb, -1))
                d = num / np.hypot(lb[..., 0], lb[..., 1]) + num / np.hypot(la[..., 0], la[..., 1])
                cost[i] = float(np.median(d[m]) / 2)
            out[(a, b)] = cost
    return out


def estimate_offsets_geometric(
    rig: Rig,
    keypoints: Keypoints2D,
    reference: str | None = None,
    max_lag: int = 10,
    min_confidence: float = 0.5,
) -> SyncSuggestion:
    """Frame offsets from the calibration: the offsets that make every camera pair's
    detections agree with the epipolar geometry (sum over pairs of the median epipolar
    distance, minimised exhaustively for up to 4 cameras, by coordinate descent beyond).

    Unlike the speed correlation (:func:`estimate_offsets`) this needs a calibration but
    tolerates views whose 2D motion looks unlike the others' (the actor facing away).
    ``confidence`` is the camera's median cost over the lags divided by its cost at the
    chosen lag (how much better than a typical lag; the cost changes smoothly with the lag,
    so a second-best lag is always a neighbour); ``correlation`` holds 1 - best / median
    (0: flat, 1: a deep minimum). Reliable as for the speed suggestion (ratio >= 1.5,
    "correlation" >= 0.5, inside the search range).
    """
    kp = keypoints.aligned_to(rig)
    F, V, _ = kp.shape
    names = list(rig.names)
    ref = _reference_camera(names, reference)
    if F - 2 * max_lag < 8:
        raise KeypointError(f"{F} frames are too few to estimate offsets up to {max_lag} frames")
    big = 2 * max_lag
    costs = epipolar_lag_costs(rig, kp, big, min_confidence)

    def cost(a: int, b: int, L: int) -> float:
        if a > b:
            a, b, L = b, a, -L
        c = costs[(a, b)][L + big]
        return float(c) if np.isfinite(c) else 1e6

    iref = names.index(ref)
    others = [v for v in range(V) if v != iref]
    lags = list(range(-max_lag, max_lag + 1))

    def total(off: dict[int, int]) -> float:
        return sum(cost(a, b, off[b] - off[a]) for a in range(V) for b in range(a + 1, V))

    if V <= 4:
        import itertools

        best = min((dict([(iref, 0), *zip(others, combo)])
                    for combo in itertools.product(lags, repeat=len(others))), key=total)
    else:
        best = {iref: 0, **{v: min(lags, key=lambda L, v=v: cost(iref, v, L)) for v in others}}
        for _ in range(10):
            changed = False
            for v in others:
                cand = min(lags, key=lambda L, v=v: sum(cost(u, v, L - best[u])
                                                        for u in range(V) if u != v))
                if cand != best[v]:
                    best[v], changed = cand, True
            if not changed:
                break
    offsets, conf, corr = {}, {}, {}
    for v, c in enumerate(names):
        if v == iref:
            offsets[c], conf[c], corr[c] = 0, float("inf"), 1.0
            continue
        curve = np.array([sum(cost(u, v, L - best[u]) for u in range(V) if u != v)
                          for L in lags])
        k = best[v] + max_lag
        typical = max(float(np.median(curve)), 1e-9)
        offsets[c] = best[v]
        conf[c] = float(typical / max(curve[k], 1e-9))
        corr[c] = float(1.0 - curve[k] / typical)
    return SyncSuggestion(ref, offsets, conf, corr, max_lag)


def shift_keypoints(keypoints: Keypoints2D, offsets: dict[str, int]) -> Keypoints2D:
    """Apply frame offsets to loaded keypoints: row ``t`` of camera ``c`` becomes what row
    ``t + offsets[c]`` held (missing beyond the ends). Other cameras are unchanged."""
    unknown = sorted(set(offsets) - set(keypoints.camera_names))
    if unknown:
        raise KeypointError(f"offsets for unknown camera(s) {unknown}; cameras are "
                            f"{keypoints.camera_names}")
    F = keypoints.shape[0]
    data = keypoints.data.copy()
    for c, o in offsets.items():
        v = keypoints.camera_names.index(c)
        src = np.arange(F) + int(o)
        ok = (src >= 0) & (src < F)
        data[:, v] = 0.0
        data[ok, v] = keypoints.data[src[ok], v]
    return keypoints.replace(data=data)
