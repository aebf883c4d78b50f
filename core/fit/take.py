"""Fit a whole take: checks, robust initial guess, chunked Gaussian fitting, outputs."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial

import numpy as np

from .. import metrics
from ..bone_check import check_bones
from ..camera import Rig
from ..errors import Cancelled, FitError
from ..keypoints.multiview import Keypoints2D
from ..progress import ProgressFn, or_silent
from ..swaps import apply_flips, correct_swaps
from ..triangulation import (
    bridge_gaps,
    reject_temporal_outliers,
    reprojection_errors,
    triangulate_consensus,
    triangulate_robust,
    undistort_keypoints,
)
from .excluded_views import pull_to_excluded_views
from .fill import fill_under_skeleton, off_skeleton_links
from .optimise import fit_frames
from .options import FitOptions
from .result import FitResult
from .skeleton import (
    detection_noise_px2,
    estimate_skeleton,
    joint_information,
    pose_under_skeleton,
)
from .view_bias import ViewBias, estimate_view_bias, remove_view_bias

#: Share of the progress bar given to the initial triangulation.
_INIT_SHARE = 0.05
#: Share given to the skeleton and temporal smoothing after the Gaussian fit.
_POST_SHARE = 0.05
#: Frames per block of the initial-guess stages (swap correction, triangulation; progress
#: and cancel checks between blocks): their working memory does not grow with take length.
_TRI_BLOCK = 200
#: The detector bias is estimated from at most about this many frames, evenly spaced.
_BIAS_FRAMES = 2000
#: Frames per optimiser call on CPU. The chunks of a wave (the unit of warm starting) are
#: fitted in batches of at most this many frames, queued on the worker threads:
#: ``fit_frames`` treats frames independently (same results, bit for bit), so the memory in
#: flight is ``workers`` batches (~40 MB per 64 frames with 4 views x 25 joints), whatever
#: the take length and ``chunk_frames``. Measured (3000 frames, same machine state): 32-frame
#: batches 84 frames/s, 64: 97, 128: 94, 256 (one call per chunk): 96; peak RSS 424 / 469 /
#: 568 / 802 MB (per-step overhead below 64 frames, memory above).
_FIT_BATCH = 64


def _check_inputs(keypoints: Keypoints2D, rig: Rig) -> Keypoints2D:
    if not isinstance(keypoints, Keypoints2D):
        raise FitError(f"keypoints must be a Keypoints2D, got {type(keypoints).__name__}")
    if not isinstance(rig, Rig):
        raise FitError(f"rig must be a Rig, got {type(rig).__name__}")
    if len(rig) < 2:
        raise FitError(f"{rig.source or 'calibration'}: {len(rig)} camera(s); fitting 3D "
                       "joints needs at least 2 calibrated cameras")
    missing = [n for n in rig.names if n not in keypoints.camera_names]
    if missing:
        raise FitError(
            f"the calibration has {len(rig)} cameras {rig.names} but the keypoints "
            f"({keypoints.source or 'keypoints'}) have {len(keypoints.camera_names)} "
            f"{keypoints.camera_names}: no keypoints for {missing}")
    # already in the rig's order: no reordered copy of the whole take (never written to)
    kp = keypoints if list(keypoints.camera_names) == list(rig.names) else \
        keypoints.aligned_to(rig)
    if kp.data.shape[0] == 0:
        raise FitError(f"{keypoints.source or 'keypoints'}: no frames to fit")
    return kp


def _device(options: FitOptions) -> bool:
    import torch

    cuda = torch.cuda.is_available()
    if options.device == "cuda" and not cuda:
        raise FitError("device 'cuda' requested but no CUDA GPU is available; "
                       "choose the device auto or cpu", option="device")
    return cuda


def _workers(opts: FitOptions, n_chunks: int) -> int:
    """Chunks fitted in parallel: CPU threads, each running torch single-threaded (small
    tensors: intra-op threading costs more in synchronisation than it gains, and collapses
    on a busy machine); 1 on CUDA. At most 8 (memory: one ``_FIT_BATCH`` per worker)."""
    if opts.device != "cpu":
        return 1
    if opts.workers:
        return max(1, min(opts.workers, n_chunks))
    import torch

    return max(1, min(torch.get_num_threads(), n_chunks, 8))


#: Bytes held per rendered image element (float32) while a full-image renderer's step runs:
#: the image, its gradient and the loss's intermediates (a generous estimate).
_FULL_IMAGE_BYTES_PER_PIXEL = 4 * 8


def _full_image_chunk(opts: FitOptions, rig: Rig, n_joints: int, chunk: int) -> int:
    """``chunk`` capped so that a full-image renderer's chunk (``"gsplat"``/``"full"``)
    takes at most half of the GPU's free memory; other renderers and the CPU: unchanged."""
    if opts.renderer not in ("gsplat", "full") or opts.device != "cuda":
        return chunk
    import torch

    free, _ = torch.cuda.mem_get_info()
    w, h = np.asarray(rig.sizes).max(0)
    per_frame = len(rig.cameras) * n_joints * int(w) * int(h) * _FULL_IMAGE_BYTES_PER_PIXEL
    return max(1, min(chunk, int(free // 2 // per_frame)))


@contextmanager
def _torch_threads(n: int | None) -> Iterator[None]:
    """Temporarily set torch's intra-op thread count (None: leave it)."""
    import torch

    if n is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@dataclass
class _Init:
    """The initial guess and what the fit keeps from it (all [F, J] / [F, J, V] arrays)."""

    X0: np.ndarray         # [F, J, 3] triangulated points (NaN: none), before bridging
    init: np.ndarray       # [F, J, 3] with short gaps bridged: where the fit starts
    used: np.ndarray       # [F, J, V] bool, views the triangulation kept
    valid0: np.ndarray     # [F, J] bool, a point of its own
    bridged: np.ndarray    # [F, J] bool, filled by bridging
    jumps: np.ndarray      # [F, J] bool, dropped as temporal outliers
    implausible: np.ndarray  # [F, J] bool, dropped by the bone check


def _detection_noise(rig: Rig, X: np.ndarray, und: np.ndarray, weight: np.ndarray,
                     n_views: np.ndarray) -> float:
    """Detection noise (px^2 at confidence 1) from the free fit ``X`` [F, J, 3] against the
    undistorted detections ``und`` [F, J, V, 3] it used (``weight`` [F, J, V]; ``n_views``
    [F, J] views used by each fitted joint, 0 where it was not fitted)."""
    wr2 = np.zeros(X.shape[:2])
    for s in range(0, len(X), _TRI_BLOCK):
        e = min(len(X), s + _TRI_BLOCK)
        r = reprojection_errors(rig.projection_matrices, X[s:e], und[s:e, ..., :2])
        r = np.minimum(np.nan_to_num(r), 1e6)  # behind a camera (inf): large, not overflow
        wr2[s:e] = np.where(weight[s:e] > 0, weight[s:e] * r ** 2, 0.0).sum(-1)
    return detection_noise_px2(wr2, n_views)


def fit_take(
    keypoints: Keypoints2D,
    rig: Rig,
    options: FitOptions | None = None,
    progress: ProgressFn | None = None,
    cancel: object | None = None,
) -> FitResult:
    """Fit the Gaussian skeleton to every frame of a take.

    Steps: align keypoint views to the rig by camera name; undistort the detections once
    (the fit works in each camera's ideal pinhole image); undo left/right swaps per view and
    limb group (``options.swap_correction``, :func:`~skelsplat.core.swaps.correct_swaps`;
    the reprojection errors are then measured against the corrected labels); robust
    confidence-weighted triangulation with camera exclusion; bridge short gaps; whole-take
    bone lengths (median of the initial guess); fit chunk by chunk
    (``options.chunk_frames``), each chunk warm-starting the Gaussian shapes from the
    previous one; the take's skeleton; optional zero-phase smoothing. Every stage works in
    blocks of frames (the optimiser, on CPU, in batches of ``_FIT_BATCH``), so peak memory
    grows with take length only by the take's own arrays (inputs, outputs, initial guess).

    The result's ``fps`` and ``frame_numbers`` are the keypoints'; ``reprojection_error_px``
    is the error of the delivered joints, ``raw_reprojection_error_px`` of the joints
    before smoothing.

    Joints without an initial guess (fewer than 2 usable views and no bridge) are NaN with
    ``valid`` False. ``progress(fraction, message)`` is called after every optimiser step
    and triangulation block; ``cancel.is_set()`` is checked as often and raises
    :class:`~skelsplat.core.errors.Cancelled` (no partial result is returned).
    """
    t_start = time.perf_counter()
    timings: dict[str, float] = {}
    options = options or FitOptions()
    kp = _check_inputs(keypoints, rig)
    opts = options.resolved(len(rig), _device(options))
    if not kp.fps and (opts.smooth in ("butterworth", "robust")
                       or (opts.smooth != "off" and opts.smooth_cutoff_hz is not None)):
        raise FitError(f"smooth={opts.smooth!r} with a cut-off in Hz needs the take's frame "
                       "rate (the keypoints carry none); smooth='whittaker' without a cut-off "
                       "does not", option="fps")
    F, V, J = kp.shape
    report = or_silent(progress)
    report(0.0, f"fitting {F} frames, {V} views, {J} joints ({opts.mode} mode, {opts.device})")

    def check_cancel() -> None:
        if cancel is not None and cancel.is_set():
            raise Cancelled("fit cancelled")

    t0 = time.perf_counter()
    und = _undistorted(kp, rig, check_cancel)  # [F, J, V, 3]
    swaps = None
    if opts.swap_correction:
        t1 = time.perf_counter()
        und, swaps = _swaps_corrected(und, rig, kp.joints, opts)
        timings["swap_correction"] = time.perf_counter() - t1
    bias = None
    if opts.bias_correction:
        t1 = time.perf_counter()
        und, bias = _bias_corrected(und, rig, opts, check_cancel)
        timings["bias_correction"] = time.perf_counter() - t1
    ini = _initial_guess(und, rig, kp.joints, opts, report, check_cancel)
    timings["triangulation"] = time.perf_counter() - t0 - timings.get("swap_correction", 0.0) \
        - timings.get("bias_correction", 0.0)
    weight = _fit_weights(und, rig, ini, opts)  # [F, J, V]
    bone_mm = _take_bone_lengths_mm(ini.X0, kp.joints, opts)

    t0 = time.perf_counter()
    means, covs, iters, losses = _gaussian_fit(und, weight, ini.init, rig, kp.joints, opts,
                                               bone_mm, report, check_cancel, cancel)
    timings["gaussian_fit"] = time.perf_counter() - t0
    _release_freed_memory()

    t0 = time.perf_counter()
    valid = np.isfinite(means).all(-1) & np.isfinite(covs).all((-1, -2))
    means[~valid] = np.nan
    covs[~valid] = np.nan
    joints, raw, skeleton, cutoffs = _skeleton_and_smoothing(
        means, valid, weight, und, kp, rig, opts, timings, report, check_cancel)
    filled = _filled_under_skeleton(joints, raw, covs, valid, und, rig, kp, skeleton, opts)
    flips = None if swaps is None else swaps.flipped
    err, uncorrected = _reprojection_errors(rig, joints, valid, kp, flips)
    raw_err = err.copy() if opts.smooth == "off" else \
        _reprojection_errors(rig, raw, valid, kp, flips)[0]
    timings["outputs"] = time.perf_counter() - t0
    timings["total"] = time.perf_counter() - t_start
    diagnostics = _diagnostics(opts, kp, ini, valid, iters, losses, skeleton, cutoffs,
                               _swap_counts(swaps, rig, uncorrected), timings)
    diagnostics["filled_under_skeleton"] = int(filled.sum())
    if bias is not None:
        diagnostics["view_bias"] = bias.summary()
    report(1.0, f"fitted {F} frames")
    return FitResult(joints, covs, valid, err, ini.init, diagnostics, kp.joints.name,
                     list(rig.names), kp.fps, kp.frame_numbers.copy(), raw,
                     {"keypoints_source": kp.source, "calibration_source": rig.source},
                     skeleton, raw_reprojection_error_px=raw_err, swap_flips=flips,
                     swap_groups=[] if swaps is None else list(swaps.groups))


def _release_freed_memory() -> None:
    """Hand the memory the fit's worker threads freed back to the system (glibc keeps it in
    per-thread arenas, and the later stages would otherwise raise the peak on top of it:
    3000 frames, 4 views: peak 519-530 -> 477 MB against 422 MB at 300 frames). A no-op
    where the C library has no ``malloc_trim``."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


# ------------------------------------------------------------------ initial guess
def _undistorted(kp: Keypoints2D, rig: Rig, check_cancel: Callable[[], None]) -> np.ndarray:
    """[F, J, V, 3] the detections in each camera's ideal pinhole image."""
    data = np.moveaxis(kp.data, 1, 2)  # [F, J, V, 3]
    und = np.empty_like(data)
    for s in range(0, data.shape[0], _TRI_BLOCK):
        check_cancel()
        e = min(data.shape[0], s + _TRI_BLOCK)
        und[s:e] = undistort_keypoints(rig, data[s:e])
    return und


def _swaps_corrected(und: np.ndarray, rig: Rig, js, opts: FitOptions):
    """The detections [F, J, V, 3] with left/right swaps undone, and the correction."""
    swaps = correct_swaps(rig, np.moveaxis(und, 2, 1), js, opts.threshold_px,
                          opts.swap_ratio, min_confidence=opts.min_confidence,
                          block_frames=_TRI_BLOCK)
    return np.moveaxis(swaps.keypoints, 1, 2), swaps  # [F, J, V, 3] view, no second copy


def _bias_corrected(und: np.ndarray, rig: Rig, opts: FitOptions,
                    check_cancel: Callable[[], None]) -> tuple[np.ndarray, ViewBias]:
    """The detections [F, J, V, 3] with each camera's bias per joint removed, estimated
    from a robust triangulation of up to ~``_BIAS_FRAMES`` evenly spaced frames."""
    sub = und[::max(1, len(und) // _BIAS_FRAMES)]
    X = np.full((*sub.shape[:2], 3), np.nan)
    used = np.zeros(sub.shape[:3], dtype=bool)
    for s in range(0, len(sub), _TRI_BLOCK):
        check_cancel()
        e = min(len(sub), s + _TRI_BLOCK)
        X[s:e], used[s:e], _ = triangulate_robust(
            rig, sub[s:e], opts.threshold_px, opts.min_views, opts.min_confidence,
            undistorted=True, pair_by_all_views=True)
    bias = estimate_view_bias(rig.projection_matrices, sub, X, used, opts.threshold_px)
    # in place: ``und`` is this fit's own working copy
    return remove_view_bias(und, bias, out=und), bias


def _initial_guess(und: np.ndarray, rig: Rig, js, opts: FitOptions, report: ProgressFn,
                   check_cancel: Callable[[], None]) -> _Init:
    """Robust triangulation, temporal-outlier and bone checks, short gaps bridged."""
    F, J, V, _ = und.shape
    X0 = np.full((F, J, 3), np.nan)
    used = np.zeros((F, J, V), dtype=bool)
    weak = np.zeros((F, J), dtype=bool)
    triangulate = triangulate_consensus if opts.init == "consensus" else \
        partial(triangulate_robust, pair_by_all_views=True)
    for s in range(0, F, _TRI_BLOCK):
        check_cancel()
        e = min(F, s + _TRI_BLOCK)
        X0[s:e], used[s:e], err_s = triangulate(
            rig, und[s:e], opts.threshold_px, opts.min_views, opts.min_confidence,
            undistorted=True)
        # only points with weak view support can be overruled by their neighbours in time:
        # two views, or a used view still above the reprojection threshold
        worst = np.max(np.where(used[s:e], np.nan_to_num(err_s, nan=0.0), 0.0), axis=-1)
        weak[s:e] = (used[s:e].sum(-1) <= 2) | (worst > opts.threshold_px)
        report(_INIT_SHARE * e / F, f"triangulating frames {e}/{F}")
    valid0 = np.isfinite(X0).all(-1)
    jumps = np.zeros_like(valid0)
    if opts.temporal_outlier_m > 0:
        jumps = reject_temporal_outliers(X0, valid0, 3, opts.temporal_outlier_m,
                                         block_frames=_TRI_BLOCK) & weak
        X0[jumps] = np.nan
        used[jumps] = False
        valid0 &= ~jumps
    implausible = np.zeros_like(valid0)
    if opts.bone_check and len(js.bones):
        # joints whose bones disagree with the take's typical lengths, or out of reach of
        # the others, are left to bridging: typical lengths from well-supported points
        lengths, spread = metrics.bone_length_statistics(X0, js.bone_indices, valid0 & ~weak)
        implausible, out_of_reach = check_bones(X0, js.bone_indices, lengths, valid0,
                                                opts.bone_tolerance, opts.bone_tolerance_m,
                                                spread)
        kept_X, kept_used = X0[implausible], used[implausible]
        X0[implausible] = np.nan
        used[implausible] = False
        valid0 &= ~implausible
    init, bridged = bridge_gaps(X0, valid0, opts.bridge_max_gap)
    if implausible.any():
        # a joint with only a bone off and no bridge keeps its own point (mild evidence);
        # one out of reach of the others stays undetermined
        back = ~bridged[implausible] & ~out_of_reach[implausible]
        sel = tuple(i[back] for i in np.nonzero(implausible))
        init[sel] = X0[sel] = kept_X[back]
        used[sel] = kept_used[back]
        valid0[sel] = True
        implausible[sel] = False
        if back.any():  # the restored points anchor gaps that had none before
            init, bridged = bridge_gaps(X0, valid0, opts.bridge_max_gap)
    return _Init(X0, init, used, valid0, bridged, jumps, implausible)


def _fit_weights(und: np.ndarray, rig: Rig, ini: _Init, opts: FitOptions) -> np.ndarray:
    """[F, J, V] fit weight of each detection: its confidence, 0 = unused."""
    F = und.shape[0]
    weight = np.zeros(und.shape[:3])
    for s in range(0, F, _TRI_BLOCK):
        e = min(F, s + _TRI_BLOCK)
        conf = np.where(np.isfinite(und[s:e, ..., :2]).all(-1), und[s:e, ..., 2], 0.0)
        keep = conf > opts.min_confidence
        if opts.drop_outlier_views:
            # bridged joints: the detections that agree with the interpolated position
            err_s = reprojection_errors(rig.projection_matrices, ini.init[s:e],
                                        und[s:e, ..., :2])
            agree = keep & (np.nan_to_num(err_s, nan=np.inf) < 2 * opts.threshold_px)
            keep = ini.used[s:e] | (ini.bridged[s:e, ..., None] & agree)
        weight[s:e] = np.where(keep, conf, 0.0)
    return weight


def _take_bone_lengths_mm(X0: np.ndarray, js, opts: FitOptions) -> np.ndarray | None:
    """[Bn] median bone lengths (mm) of the initial guess for the bone-length term (NaN:
    seen in fewer than 3 frames); None when the term is off."""
    if not (opts.bone_length_weight and len(js.bones)):
        return None
    return metrics.typical_bone_lengths(X0, js.bone_indices) * 1000.0


# ------------------------------------------------------------------ Gaussian fit
def _gaussian_fit(und: np.ndarray, weight: np.ndarray, init: np.ndarray, rig: Rig, js,
                  opts: FitOptions, bone_mm: np.ndarray | None, report: ProgressFn,
                  check_cancel: Callable[[], None], cancel: object | None):
    """Chunked, warm-started fit of every frame.

    Returns means [F, J, 3] (m), covariances [F, J, 3, 3], iterations [F], final loss [F].
    """
    F, J, _, _ = und.shape
    w2c = rig.world_to_cams
    lr_mm = opts.lr_mean_factor * rig.scale * 1000.0
    means = np.full((F, J, 3), np.nan)
    covs = np.full((F, J, 3, 3), np.nan)
    iters = np.zeros(F, dtype=int)
    losses = np.full(F, np.nan)
    chunk = _full_image_chunk(opts, rig, J, int(opts.chunk_frames))
    if opts.device == "cpu":  # enough chunks to keep every worker busy on short takes
        chunk = max(1, min(chunk, -(-F // _workers(opts, F))))
    starts = list(range(0, F, chunk))
    workers = _workers(opts, len(starts))
    batch = _FIT_BATCH if opts.device == "cpu" else chunk
    done_steps: dict[int, float] = {}

    def fit_batch(s: int, e: int, warm):
        def on_step(done: int, total: int) -> None:
            done_steps[s] = (e - s) * done / total

        fit_kp = np.concatenate([np.nan_to_num(und[s:e, ..., :2]), weight[s:e, ..., None]], -1)
        fit_kp = np.ascontiguousarray(np.moveaxis(fit_kp, 2, 1))  # [f, V, J, 3]
        return fit_frames(fit_kp, rig.K, w2c, init[s:e], rig.sizes, opts, lr_mm, js, bone_mm,
                          warm, on_step, cancel)

    def progress_now() -> None:
        fitted = sum(done_steps.values())
        report(_INIT_SHARE + (1 - _INIT_SHARE - _POST_SHARE) * fitted / F,
               f"fitting: {int(fitted)}/{F} frame-equivalents ({workers} worker(s))")

    warm = None
    with _torch_threads(1 if opts.device == "cpu" else None), \
            ThreadPoolExecutor(max_workers=workers) as pool:
        for w0 in range(0, len(starts), workers):
            check_cancel()
            # the chunks of a wave share the warm start; each is fitted in batches
            batches = [(b, min(b + batch, s + chunk, F)) for s in starts[w0:w0 + workers]
                       for b in range(s, min(s + chunk, F), batch)]
            futures = [pool.submit(fit_batch, s, e, warm) for s, e in batches]
            pending = set(futures)
            while pending:
                _, pending = wait(pending, timeout=0.1, return_when=FIRST_EXCEPTION)
                progress_now()
                if any(f.done() and f.exception() is not None for f in futures):
                    for f in futures:
                        f.cancel()  # batches still queued do not start
                    wait(futures)
                    raise next(f.exception() for f in futures  # Cancelled / worker's error
                               if not f.cancelled() and f.exception() is not None)
            for (s, e), fut in zip(batches, futures):
                ff = fut.result()
                means[s:e], covs[s:e] = ff.means, ff.covariances
                iters[s:e], losses[s:e] = ff.iterations, ff.loss
            if opts.mode == "fast":
                last_ok = np.isfinite(ff.means[-1]).all(-1)
                if last_ok.any():
                    ls = np.where(last_ok[:, None], ff.log_scales[-1], np.log(opts.sigma_mm))
                    qs = np.where(last_ok[:, None], ff.quats[-1], [1.0, 0.0, 0.0, 0.0])
                    warm = (ls, qs)
    return means, covs, iters, losses


# ------------------------------------------------------------------ outputs
def _skeleton_and_smoothing(free: np.ndarray, valid: np.ndarray, weight: np.ndarray,
                            und: np.ndarray, kp: Keypoints2D, rig: Rig, opts: FitOptions,
                            timings: dict[str, float], report: ProgressFn,
                            check_cancel: Callable[[], None]):
    """The take's skeleton and the temporal smoothing of the free per-frame fit ``free``
    [F, J, 3] (``und`` [F, J, V, 3]: the undistorted detections it was fitted to).

    Returns the delivered joints [F, J, 3], the joints before smoothing [F, J, 3] (the
    free fit moved by the views camera exclusion set aside; when smoothing is off, a copy
    of the delivered joints), the skeleton (or None) and the smoothing cut-offs (or None).
    """
    js = kp.joints
    post_done = [0]
    n_used = (weight > 0).sum(-1)  # [F, J]
    noise_px2 = info_all = None
    if opts.drop_outlier_views and valid.any():
        # the views camera exclusion set aside get a soft say (the heatmap loss gave them none)
        t1 = time.perf_counter()
        noise_px2 = _detection_noise(rig, free, und, weight, np.where(valid, n_used, 0))
        free, info_all = pull_to_excluded_views(free, valid, und, rig, weight,
                                               opts.min_confidence, float(np.sqrt(noise_px2)))
        timings["excluded_views"] = time.perf_counter() - t1
    means, skeleton, info = free, None, None

    def tick(message: str) -> Callable[[], None]:
        def step() -> None:  # progress creeps towards 1 (stage sizes vary)
            check_cancel()
            post_done[0] += 1
            report(1.0 - _POST_SHARE / (1 + 0.1 * post_done[0]), message)
        return step

    if opts.skeleton == "rigid" and len(js.bones) and valid.any():
        t1 = time.perf_counter()
        info = joint_information(free, rig.K, rig.world_to_cams, weight) \
            if info_all is None else info_all  # [F, J, 3, 3]
        if noise_px2 is None:
            noise_px2 = _detection_noise(rig, free, und, weight, np.where(valid, n_used, 0))
        skeleton = estimate_skeleton(free, valid, n_used, js, information=info,
                                     noise_px2=noise_px2)
        if opts.smooth == "off":  # else the skeleton is posed on the smoothed points only
            means = pose_under_skeleton(free, info, valid, skeleton, js,
                                        tick=tick("posing every frame under the skeleton"))
        timings["skeleton"] = time.perf_counter() - t1
    if opts.smooth == "off":
        return means, means.copy(), skeleton, None
    # unsmoothed output: the (moved) free fit; the skeleton is posed on the smoothed points
    raw = free.copy()
    from ..smoothing import smooth_trajectories

    tick("temporal smoothing")()
    t1 = time.perf_counter()
    # without a frame rate the cut-offs come out in cycles per frame (fps 1)
    smoothed, cutoffs = smooth_trajectories(free, valid, kp.fps or 1.0, opts.smooth,
                                            opts.smooth_cutoff_hz)
    means = smoothed if skeleton is None else pose_under_skeleton(
        smoothed, info, valid, skeleton, js, tick=tick("posing the smoothed frames"))
    timings["smoothing"] = time.perf_counter() - t1
    return means, raw, skeleton, cutoffs


def _filled_under_skeleton(joints: np.ndarray, raw: np.ndarray, covs: np.ndarray,
                           valid: np.ndarray, und: np.ndarray, rig: Rig, kp: Keypoints2D,
                           skeleton, opts: FitOptions) -> np.ndarray:
    """Joints left undetermined although two views detect them, placed under the skeleton
    or, off it (a face the joint set's bones do not link to the body), at the take's typical
    distance from a joint-set neighbour (:mod:`.fill`; ``joints``, ``raw``, ``covs`` and
    ``valid`` change in place); their covariance is the joint's median over the take.
    Returns the filled entries [F, J]."""
    if skeleton is None or valid.all():
        return np.zeros_like(valid)
    before = valid.copy()
    extra = off_skeleton_links(kp.joints.bone_indices, skeleton, joints, valid)
    filled = fill_under_skeleton(joints, valid, und, rig, skeleton, opts.threshold_px,
                                 min_confidence=opts.min_confidence, extra_links=extra)
    if filled.any():
        raw[filled] = joints[filled]
        typical = np.full(covs.shape[1:], np.nan)  # [J, 3, 3]
        for j in np.nonzero(filled.any(0))[0]:
            src = covs[before[:, j], j] if before[:, j].any() else covs[before]
            typical[j] = np.median(src, axis=0)
        f, j = np.nonzero(filled)
        covs[f, j] = typical[j]
    return filled


def _reprojection_errors(rig: Rig, joints: np.ndarray, valid: np.ndarray, kp: Keypoints2D,
                         flips: np.ndarray | None) -> tuple[np.ndarray, float]:
    """Per-detection reprojection error [F, V, J] (distorted px) of ``joints`` [F, J, 3]
    against the labels after the swap correction ``flips`` [F, V, G] (NaN: no detection or
    no valid joint), and the mean error against the labels as detected (NaN without
    ``flips``)."""
    F, V, J = kp.shape
    js = kp.joints
    err = np.full((F, V, J), np.nan)
    raw_sum, raw_n = 0.0, 0
    for s in range(0, F, _TRI_BLOCK):
        e = min(F, s + _TRI_BLOCK)
        X = np.where(valid[s:e, :, None], joints[s:e], np.nan)
        obs = kp.data[s:e]
        det = obs if flips is None else apply_flips(obs, flips[s:e], js)
        err[s:e] = metrics.reprojection_errors(rig, X, det)
        if flips is not None:
            raw_s = metrics.reprojection_errors(rig, X, obs)
            raw_s = raw_s[np.isfinite(raw_s)]
            raw_sum, raw_n = raw_sum + float(raw_s.sum()), raw_n + raw_s.size
    return err, raw_sum / raw_n if raw_n else float("nan")


def _diagnostics(opts: FitOptions, kp: Keypoints2D, ini: _Init, valid: np.ndarray,
                 iters: np.ndarray, losses: np.ndarray, skeleton, cutoffs, swap_counts: dict,
                 timings: dict[str, float]) -> dict:
    """``FitResult.diagnostics``: settings, counts, iterations, losses, timings."""
    F, V, J = kp.shape
    return {
        "mode": opts.mode, "renderer": opts.renderer, "device": opts.device,
        "smooth": opts.smooth, "frames": F, "views": V, "joints": J,
        "iterations_mean": float(iters.mean()), "iterations_max": int(iters.max(initial=0)),
        "iterations": iters, "final_loss_mean": float(metrics.nanmean(losses)),
        "final_loss": losses,
        "init_valid": int(ini.valid0.sum()), "bridged": int(ini.bridged.sum()),
        "temporal_outliers": int(ini.jumps.sum()), "bone_rejected": int(ini.implausible.sum()),
        "smooth_cutoff_hz": None if cutoffs is None or not kp.fps
        else [float(c) for c in cutoffs],
        "smooth_cutoff_per_frame": None if cutoffs is None
        else [float(c) / (kp.fps or 1.0) for c in cutoffs],
        "skeleton": None if skeleton is None else skeleton.as_dict(),
        **swap_counts,
        "fit_valid": int(valid.sum()), "timings_s": timings,
        "frames_per_second": F / max(timings["total"], 1e-9), "options": opts.as_dict(),
    }


def _swap_counts(swaps, rig: Rig, uncorrected_px: float) -> dict:
    """Diagnostics of the swap correction (empty when it was off)."""
    if swaps is None:
        return {}
    return {
        "swaps_corrected": int(swaps.flipped.sum()),
        "swaps_view_frames": int(swaps.view_frames_flipped.sum()),
        "swaps_per_camera": {n: int(c) for n, c in
                             zip(rig.names, swaps.view_frames_flipped.sum(0))},
        "swaps_per_group": {g: int(c) for g, c in
                            zip(swaps.groups, swaps.flipped.sum((0, 1)))},
        "reprojection_error_uncorrected_px": uncorrected_px,
    }
