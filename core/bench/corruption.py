"""Synthetic 2D detections: project ground truth, then corrupt it like a real detector.

Noise is the Shelf-calibrated model (``noise_model.json``): per joint a Gaussian core
and a shared wide tail, in metres at the subject's depth (converted to pixels with each
camera's ``f / z``), plus the measured rate of missed detections; confidences are drawn
from the measured score histograms (core or tail). With time in it (``Corruption.temporal``,
the default; measured on Shelf, see ``noise_calibration``): the core is a constant bias
per camera and joint plus a sum of AR(1) processes (detector errors persist over frames),
tail errors come in runs with slowly drifting offsets, and misses come in runs. With
``temporal=False`` every frame is drawn independently (the i.i.d. reference scenario).
Corruptions on top:

- ``occlusion``: dropped detections in runs (per view and joint, a two-state Markov chain
  with the given stationary drop rate, mean run ``run_frames``);
- ``outliers``: confident but wrong points, uniformly inside the person's box (x 1.5);
- ``swaps``: the whole left/right body flipped in one view and frame (a classic
  detector failure);
- ``view_missing``: a whole view without any detection, in runs (Markov, per view);
- ``out_of_frame``: the person partly leaves a view: in half of the views (on average),
  for a block of ``2 x rate x F`` frames, a vertical image border crosses the person's
  box and everything beyond it is dropped.
Points outside the image or behind a camera are always dropped.

All randomness comes from one ``numpy.random.Generator`` passed in: same seed, same
bytes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..camera import Rig
from ..skeletons import get_joint_set


@dataclass(frozen=True)
class Corruption:
    """How to corrupt projected detections (rates are probabilities in [0, 1])."""

    noise: float = 1.0           # multiplier on the calibrated sigmas (0 = exact points)
    realistic_misses: bool = True
    occlusion: float = 0.0
    outliers: float = 0.0
    swaps: float = 0.0
    view_missing: float = 0.0
    out_of_frame: float = 0.0
    run_frames: float = 8.0
    temporal: bool = True        # correlated errors + per-camera/joint bias (False: i.i.d.)


def ar_mixture(rng: np.random.Generator, F: int, shape: tuple[int, ...],
               weights: list[float], rhos: list[float]) -> np.ndarray:
    """[F, *shape] stationary unit-variance noise whose autocorrelation at lag k is
    ``sum_i weights_i rhos_i^k`` (a sum of AR(1) processes; the weights' remainder to 1 is
    white)."""
    from scipy.signal import lfilter

    out = np.zeros((F, *shape))
    for w, rho in zip(weights, rhos):
        e = rng.standard_normal((F, *shape))
        s = np.sqrt(max(1.0 - rho * rho, 1e-12))
        e[0] /= s  # x_0 = e_0 has the stationary variance
        out += np.sqrt(w) * lfilter([s], [1.0, -rho], e, axis=0)
    rest = 1.0 - float(sum(weights))
    white = rng.standard_normal((F, *shape))
    if rest > 1e-9:
        out += np.sqrt(rest) * white
    return out


def tail_offsets(rng: np.random.Generator, F: int, shape: tuple[int, ...],
                 rho: float) -> np.ndarray:
    """[F, *shape] unit-variance offsets of gross errors: an AR(1) process with
    coefficient ``rho`` per series, so a detector that confuses a joint keeps confusing it
    the same way for a while (and again when the confusion returns)."""
    return ar_mixture(rng, F, shape, [1.0], [rho])


def _markov_mask(rng: np.random.Generator, F: int, shape: tuple[int, ...],
                 rate: float | np.ndarray, run: float) -> np.ndarray:
    """[F, *shape] bool 'dropped' runs with stationary probability ``rate`` (a scalar or an
    array broadcasting to ``shape``) and mean run length ``run`` frames."""
    rate = np.broadcast_to(np.asarray(rate, dtype=float), shape)
    if (rate <= 0).all():
        return np.zeros((F, *shape), dtype=bool)
    p_end = 1.0 / max(run, 1.0)
    p_start = np.minimum(1.0, rate * p_end / np.maximum(1.0 - rate, 1e-9))
    out = np.empty((F, *shape), dtype=bool)
    state = rng.random(shape) < rate
    for f in range(F):
        u = rng.random(shape)
        state = np.where(state, u >= p_end, u < p_start)
        out[f] = state
    return out


def _sample_hist(rng: np.random.Generator, hist: list[float], bins: list[float],
                 shape: tuple[int, ...]) -> np.ndarray:
    p = np.asarray(hist, float)
    p = p / p.sum()
    k = rng.choice(len(p), size=shape, p=p)
    lo = np.asarray(bins)[k]
    return np.clip(lo + rng.random(shape) * (bins[1] - bins[0]), 0.01, 1.0)


def synthesize_detections(gt: np.ndarray, rig: Rig, joint_set: str, model: dict,
                          corruption: Corruption, rng: np.random.Generator) -> np.ndarray:
    """Detections [F, V, J, 3] (distorted px, confidence; 0 = missing) of ground truth
    ``gt`` [F, J, 3] (metres, world) in ``rig``."""
    js = get_joint_set(joint_set)
    F, J, _ = gt.shape
    V = len(rig)
    c = corruption
    uv = np.moveaxis(rig.project(gt), -2, 1)  # [F, V, J, 2]
    depth = np.stack([cam.depth(gt) for cam in rig], 1)  # [F, V, J]
    focal = np.array([0.5 * (cam.fx + cam.fy) for cam in rig])[None, :, None]
    px_per_m = focal / np.where(depth > 0, depth, np.nan)
    jm = [model["joints"][n] for n in js.joints]
    sigma = np.array([m["sigma_m"] for m in jm])
    p_tail = np.array([m["p_tail"] for m in jm])
    p_miss = np.array([m["p_missed"] for m in jm])
    shape = (F, V, J)
    # Random draws in a fixed order (determinism does not depend on the options).
    g_core = rng.standard_normal((*shape, 2))
    g_tail = rng.standard_normal((*shape, 2))
    u_tail = rng.random(shape)
    u_miss = rng.random(shape)
    conf_core = _sample_hist(rng, model["conf_hist_core"], model["conf_bins"], shape)
    conf_tail = _sample_hist(rng, model["conf_hist_tail"], model["conf_bins"], shape)
    occl = _markov_mask(rng, F, (V, J), c.occlusion, c.run_frames)
    u_out = rng.random(shape)
    u_pos = rng.random((*shape, 2))
    u_swap = rng.random((F, V))
    vmiss = _markov_mask(rng, F, (V,), c.view_missing, 2 * c.run_frames)
    oof_view = rng.random(V) < 0.5
    n_block = min(F, round(2 * c.out_of_frame * F))
    oof_start = rng.integers(0, F - n_block + 1, V)
    oof_side = rng.random(V) < 0.5
    oof_cut = rng.uniform(0.25, 0.75, V)

    tm = model.get("temporal")
    if tm is not None:  # drawn whatever the options (fixed order of random draws)
        ar = ar_mixture(rng, F, (V, J, 2), tm["ar_weights"], tm["ar_rhos"])
        bias = rng.standard_normal((V, J, 2))
        tail_runs = _markov_mask(rng, F, (V, J), p_tail[None, :], tm["tail_run_frames"])
        miss_runs = _markov_mask(rng, F, (V, J), p_miss[None, :], tm["miss_run_frames"])
        tail_draw = tail_offsets(rng, F, (V, J, 2), tm["tail_rho"])
    if c.temporal and tm is not None:
        beta = tm["bias_share"]
        g_core = np.sqrt(1.0 - beta) * ar + np.sqrt(beta) * bias[None]
        is_tail = tail_runs & (c.noise > 0)
        g_tail = tail_draw
        missed = miss_runs
    else:
        is_tail = (u_tail < p_tail) & (c.noise > 0)
        missed = u_miss < p_miss
    offset_m = np.where(is_tail[..., None], g_tail * model["tail_sigma_m"],
                        g_core * sigma[None, None, :, None]) * c.noise
    pts = uv + offset_m * px_per_m[..., None]
    conf = np.where(is_tail, conf_tail, conf_core) if c.noise > 0 else np.ones(shape)
    if c.swaps > 0:
        perm = js.flip_permutation()
        flip = u_swap < c.swaps
        pts[flip] = pts[flip][:, perm]
        conf[flip] = conf[flip][:, perm]
    lo = np.nanmin(uv, axis=2, keepdims=True)  # [F, V, 1, 2] person box
    hi = np.nanmax(uv, axis=2, keepdims=True)
    centre, half = (lo + hi) / 2, (hi - lo) / 2 * 1.5
    outl = u_out < c.outliers
    rand_pts = centre + (2 * u_pos - 1) * half
    pts = np.where(outl[..., None], rand_pts, pts)
    conf = np.where(outl, conf_core, conf)
    missing = occl | vmiss[..., None]
    if c.realistic_misses and c.noise > 0:
        missing |= missed
    if c.out_of_frame > 0:
        f_idx = np.arange(F)[:, None]
        in_block = oof_view[None] & (f_idx >= oof_start[None]) & (f_idx < oof_start[None] + n_block)
        cut = lo[..., 0, 0] + oof_cut[None] * (hi[..., 0, 0] - lo[..., 0, 0])  # [F, V]
        beyond = np.where(oof_side[None, :, None], pts[..., 0] > cut[..., None],
                          pts[..., 0] < cut[..., None])
        missing |= in_block[..., None] & beyond
    sizes = rig.sizes[None, :, None, :]
    inside = (pts >= 0).all(-1) & (pts <= sizes).all(-1) & np.isfinite(pts).all(-1)
    inside &= depth > 0
    missing |= ~inside
    out = np.concatenate([pts, conf[..., None]], -1)
    out[missing] = 0.0
    return out
