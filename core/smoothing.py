"""Zero-phase temporal smoothing of joint trajectories with NaN gaps."""

from __future__ import annotations

import warnings

import numpy as np


def butterworth_smooth(
    X: np.ndarray,  # [F, ..., 3]
    valid: np.ndarray,  # [F, ...]
    fps: float,
    cutoff_hz: float = 6.0,
    order: int = 4,
) -> np.ndarray:  # [F, ..., 3]
    """Low-pass every coordinate forwards and backwards (scipy ``filtfilt``, zero phase).

    Each run of consecutive valid frames is filtered on its own (gaps are never filled);
    runs too short for the filter's padding are left unchanged. Invalid entries stay NaN.
    """
    from scipy.signal import butter, filtfilt

    if fps <= 0 or cutoff_hz <= 0:
        raise ValueError(f"fps and cutoff must be positive, got fps={fps}, cutoff={cutoff_hz}")
    X = np.asarray(X, dtype=float)
    valid = np.asarray(valid, dtype=bool) & np.isfinite(X).all(-1)
    out = np.where(valid[..., None], X, np.nan)
    wn = cutoff_hz / (0.5 * fps)
    if wn >= 1.0:
        return out  # cut-off at or above Nyquist: nothing to remove
    b, a = butter(order, wn)
    pad = 3 * max(len(a), len(b))
    F = X.shape[0]
    Xf = out.reshape(F, -1, 3)
    vf = valid.reshape(F, -1)
    for k in range(vf.shape[1]):
        v = np.concatenate([[False], vf[:, k], [False]])
        edges = np.flatnonzero(v[1:] != v[:-1])
        for s, e in zip(edges[::2], edges[1::2]):
            if e - s > pad:
                Xf[s:e, k] = filtfilt(b, a, Xf[s:e, k], axis=0)
    return Xf.reshape(out.shape)


def reject_spikes(
    X: np.ndarray,  # [F, ..., 3]
    valid: np.ndarray,  # [F, ...]
    fps: float,
    cutoff_hz: float = 6.0,
    n_sigma: float = 4.0,
    min_deviation: float = 0.04,
    iterations: int = 3,
) -> np.ndarray:  # [F, ...] bool
    """Single-frame spikes on 3D trajectories (True = spike), found iteratively.

    Each round low-passes the trajectories with the spikes found so far replaced by
    interpolation, and flags the points whose distance to the low-passed curve exceeds both
    ``n_sigma`` robust standard deviations of that distance over the joint's trajectory
    (1.4826 x its median: a joint is judged by its own jitter, not by its speed) and
    ``min_deviation`` metres. Invalid points are never spikes.
    """
    X = np.asarray(X, dtype=float)
    valid = np.asarray(valid, dtype=bool) & np.isfinite(X).all(-1)
    spike = np.zeros_like(valid)
    for _ in range(iterations):
        smooth = butterworth_smooth(_interpolate(X, valid, valid & ~spike), valid, fps,
                                    cutoff_hz)
        dev = np.linalg.norm(X - smooth, axis=-1)  # [F, ...]
        with warnings.catch_warnings():  # all-NaN columns (joints never valid)
            warnings.simplefilter("ignore", RuntimeWarning)
            scale = 1.4826 * np.nanmedian(np.where(valid & ~spike, dev, np.nan), axis=0)
        new = valid & (dev > np.maximum(n_sigma * np.nan_to_num(scale), min_deviation))
        if np.array_equal(new, spike):
            break
        spike = new
    return spike


def _interpolate(
    X: np.ndarray,  # [F, ..., 3]
    valid: np.ndarray,  # [F, ...]
    keep: np.ndarray,  # [F, ...] subset of valid whose values are trusted
) -> np.ndarray:  # [F, ..., 3]
    """Replace valid-but-untrusted points by linear interpolation between trusted ones
    (kept as they are where a joint has fewer than 2 trusted points)."""
    F = X.shape[0]
    out = np.where(valid[..., None], X, np.nan).reshape(F, -1, 3)
    kf, vf = keep.reshape(F, -1), valid.reshape(F, -1)
    t = np.arange(F)
    for k in np.flatnonzero((vf & ~kf).any(0)):
        good = kf[:, k]
        if good.sum() < 2:
            continue
        fill = vf[:, k] & ~good
        for c in range(3):
            out[fill, k, c] = np.interp(t[fill], t[good], out[good, k, c])
    return out.reshape(X.shape)


def robust_smooth(
    X: np.ndarray,  # [F, ..., 3]
    valid: np.ndarray,  # [F, ...]
    fps: float,
    cutoff_hz: float = 6.0,
    order: int = 4,
) -> np.ndarray:  # [F, ..., 3]
    """Spike rejection (:func:`reject_spikes`), then :func:`butterworth_smooth`.

    Spikes are replaced by linear interpolation between their valid neighbours before
    filtering, so a single wrong frame does not ring through its neighbours. Invalid
    entries stay NaN; every valid entry keeps a (smoothed) value.
    """
    X = np.asarray(X, dtype=float)
    valid = np.asarray(valid, dtype=bool) & np.isfinite(X).all(-1)
    spike = reject_spikes(X, valid, fps, cutoff_hz)
    filled = _interpolate(X, valid, valid & ~spike)
    return butterworth_smooth(filled, valid, fps, cutoff_hz, order)
