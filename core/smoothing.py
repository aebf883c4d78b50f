"""Zero-phase temporal smoothing of joint trajectories with NaN gaps."""

from __future__ import annotations

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
