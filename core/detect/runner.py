"""Detect 2D keypoints in every video of a take, with caching, progress and cancel.

Each camera's whole video is detected once per (video content, detector settings) and
cached next to the take (see :mod:`.cache`); take frames are then picked out of the cached
per-video rows through the frame offsets, so changing offsets or re-fitting never
re-detects. Frames are decoded ahead in a thread while the detector runs; optionally
cameras run in ``workers`` processes (one camera per process at a time);
progress reports frames done / total per camera, and cancel stops between frames,
keeping the cameras already finished in the cache.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import queue
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import Cancelled, ExportError, SkelsplatError
from ..footage import Take
from ..keypoints.multiview import Keypoints2D
from ..progress import ProgressFn, or_silent
from ..video import iter_frames, prefetch
from .cache import (
    CACHE_DIRNAME,
    CachedDetections,
    cache_key,
    cache_path,
    load_cached,
    save_cached,
    video_fingerprint,
)
from .options import BACKENDS

log = logging.getLogger(__name__)


#: Frames between two progress messages from a worker.
_REPORT_EVERY = 5


def make_detector(backend: str = "mediapipe", **options):
    """Build a detector: ``mediapipe`` (options of MediaPipePoseDetector) or ``onnx``
    (``model=PATH`` plus the options of OnnxTopDownDetector)."""
    if backend == "mediapipe":
        from .mediapipe_pose import MediaPipePoseDetector

        return MediaPipePoseDetector(**options)
    if backend == "onnx":
        from .onnx_topdown import OnnxTopDownDetector

        if not options.get("model"):
            raise SkelsplatError("the onnx detector needs a model file (an ONNX pose model)",
                                 option="model")
        return OnnxTopDownDetector(**options)
    raise SkelsplatError(f"unknown detector backend {backend!r}; choose one of {BACKENDS}",
                         option="backend")


def default_cache_dir(take_root: str | Path) -> Path:
    """``<take_root>/.skelsplat_cache`` when the take folder is writable, else the user's
    cache (``$XDG_CACHE_HOME`` or ``~/.cache``) ``/skelsplat/detections`` (safe to share:
    file names carry the video-content and settings key)."""
    root = Path(take_root)
    local = root / CACHE_DIRNAME
    if (local.is_dir() and os.access(local, os.W_OK)) or os.access(root, os.W_OK):
        return local
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "skelsplat" / "detections"


@dataclass
class CameraStats:
    """Summary of one camera's detections over the take frames."""

    camera: str
    frames: int
    frames_with_person: int
    mean_confidence: float     # over detected joints (confidence > 0) of all frames
    ms_per_frame: float        # decode + detect wall time when detected (0 if cached run)
    cached: bool

    def line(self) -> str:
        src = "cache" if self.cached else "detected"
        return (f"{self.camera}: {self.frames_with_person}/{self.frames} frames with a person, "
                f"mean confidence {self.mean_confidence:.2f}, {self.ms_per_frame:.1f} ms/frame "
                f"({src})")


def detect_video(
    path: str | Path,
    camera: str,
    detector,
    on_frame: Callable[[int, int], None] | None = None,
    cancel=None,
    n_frames: int | None = None,
    decode_thread: bool = False,
) -> tuple[np.ndarray, float]:
    """Run ``detector`` over every frame of one video (``decode_thread``: decode ahead in
    a background thread).

    Returns:
        keypoints [F, J, 3] (u, v px, confidence) and the mean wall ms per frame.

    Raises:
        Cancelled: ``cancel.is_set()`` became true between two frames.
    """
    detector.reset()
    rows = []
    t0 = time.perf_counter()
    frames = iter_frames(path, camera=camera)
    for i, rgb in prefetch(frames) if decode_thread else frames:
        if cancel is not None and cancel.is_set():
            raise Cancelled(f"detection cancelled at camera {camera}, frame {i}")
        rows.append(detector.detect(rgb))
        if on_frame is not None:
            on_frame(i + 1, n_frames or i + 1)
    elapsed = time.perf_counter() - t0
    detector.reset()
    if not rows:
        raise SkelsplatError(f"video {str(path)!r} (camera {camera}) has no decodable frame")
    return np.stack(rows), 1000.0 * elapsed / len(rows)


# ---- worker processes -------------------------------------------------------------------

_W_QUEUE = None
_W_CANCEL = None


def _worker_init(progress_queue, cancel_event) -> None:
    global _W_QUEUE, _W_CANCEL
    _W_QUEUE, _W_CANCEL = progress_queue, cancel_event


def _worker_detect(path: str, camera: str, n_frames: int, backend: str, options: dict,
                   decode_thread: bool) -> tuple[str, np.ndarray, float]:
    detector = make_detector(backend, **options)

    def on_frame(done: int, total: int) -> None:
        if done % _REPORT_EVERY == 0 or done == total:
            _W_QUEUE.put((camera, done, total))

    try:
        kp, ms = detect_video(path, camera, detector, on_frame, _W_CANCEL, n_frames,
                              decode_thread)
    finally:
        detector.close()
    return camera, kp, ms


# ---- the take ----------------------------------------------------------------------------

def _stats(camera: str, kp: np.ndarray, ms: float, cached: bool) -> CameraStats:
    conf = kp[..., 2]
    detected = conf > 0
    person = detected.any(-1)
    mean_conf = float(conf[detected].mean()) if detected.any() else 0.0
    return CameraStats(camera, int(kp.shape[0]), int(person.sum()), mean_conf,
                       0.0 if cached else ms, cached)


def detect_take(
    take: Take,
    backend: str = "mediapipe",
    options: dict | None = None,
    use_cache: bool = True,
    cache_dir: str | Path | None = None,
    workers: int = 1,
    progress: ProgressFn | None = None,
    cancel=None,
    decode_thread: bool = True,
) -> Keypoints2D:
    """2D keypoints ``[F, V, J, 3]`` of every camera of ``take`` over its common frames.

    Args:
        take: videos matched to cameras (:func:`~skelsplat.core.footage.read_take`).
        backend, options: detector (:func:`make_detector`).
        use_cache: read and write the cache in ``cache_dir`` (default
            :func:`default_cache_dir` of the take folder).
        workers: processes detecting cameras in parallel (1 = in this process, the
            default: with ``decode_thread`` it was the fastest on the shared 2-core machine,
            see docs/detection.md).
        decode_thread: decode frames ahead in a background thread (per process).
        progress: ``progress(fraction, message)`` with frames done / total per camera.
        cancel: object with ``is_set()``; raises :class:`Cancelled` (finished cameras stay
            cached).

    Returns:
        Keypoints2D in the take's camera order, ``frame_numbers`` = take frames. ``meta``
        holds ``detection`` (per-camera :class:`CameraStats` as dicts), ``warnings``
        (e.g. a camera with no person in any frame) and ``cache_files``.
    """
    if not isinstance(take, Take):
        raise TypeError(f"detect_take needs a Take (core.footage.read_take), got {type(take)}")
    options = dict(options or {})
    probe = make_detector(backend, **options)
    settings = probe.settings()
    joint_set = probe.joint_set
    probe.close()
    cdir = Path(cache_dir) if cache_dir is not None else default_cache_dir(take.root)

    results: dict[str, CachedDetections] = {}
    paths: dict[str, Path] = {}
    todo = []
    notes: list[str] = []
    for tv in take.videos:
        fp = video_fingerprint(tv.path)
        paths[tv.camera] = cache_path(cdir, tv.camera, cache_key(fp, settings))
        hit = load_cached(paths[tv.camera]) if use_cache else None
        if use_cache and hit is None and paths[tv.camera].is_file():
            notes.append(f"camera {tv.camera}: the detection cache {paths[tv.camera]} is "
                         "damaged (truncated or empty); detecting again")
            log.warning(notes[-1])
        if hit is not None and hit.joint_set == joint_set:
            results[tv.camera] = hit
        else:
            todo.append((tv, fp))
    cached_names = set(results)

    total = sum(tv.info.n_frames for tv, _ in todo)
    done: dict[str, int] = {tv.camera: 0 for tv, _ in todo}

    show = or_silent(progress)

    def report(camera: str, n: int, of: int) -> None:
        done[camera] = n
        show(sum(done.values()) / max(total, 1), f"{camera}: {n}/{of} frames")

    def finish(tv, fp: str, kp: np.ndarray, ms: float) -> None:
        det = CachedDetections(tv.camera, kp, joint_set, tv.info.fps, tv.path.name, fp,
                               settings, ms)
        results[tv.camera] = det
        if use_cache:
            try:
                save_cached(paths[tv.camera], det)
            except ExportError as exc:  # a read-only or full cache folder costs a re-detect
                notes.append(f"camera {tv.camera}: detections not cached ({exc})")
                log.warning(notes[-1])

    def run_here(items) -> None:
        detector = make_detector(backend, **options)
        try:
            for tv, fp in items:
                kp, ms = detect_video(tv.path, tv.camera, detector,
                                      lambda n, of, c=tv.camera: report(c, n, of), cancel,
                                      tv.info.n_frames, decode_thread)
                finish(tv, fp, kp, ms)
        finally:
            detector.close()

    if todo and (workers <= 1 or len(todo) == 1):
        run_here(todo)
    elif todo:
        try:
            _detect_parallel(todo, backend, options, min(workers, len(todo)), report, finish,
                             cancel, decode_thread)
        except (BrokenProcessPool, ModuleNotFoundError) as exc:
            # e.g. a script without an ``if __name__ == "__main__":`` guard, or a host
            # whose package cannot be imported by a fresh interpreter (an extension inside
            # Blender): finish the remaining cameras in this process.
            notes.append(f"detection worker processes failed ({exc}); the remaining cameras "
                         "were detected in this process")
            log.warning(notes[-1])
            run_here([(tv, fp) for tv, fp in todo if tv.camera not in results])

    return _assemble(take, results, joint_set, cached_names, settings, paths, notes)


def _detect_parallel(todo, backend, options, workers, report, finish, cancel,
                     decode_thread) -> None:
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    stop = ctx.Event()
    with ProcessPoolExecutor(workers, mp_context=ctx, initializer=_worker_init,
                             initargs=(q, stop)) as pool:
        futures = {pool.submit(_worker_detect, str(tv.path), tv.camera, tv.info.n_frames,
                               backend, options, decode_thread): (tv, fp)
                   for tv, fp in todo}
        pending = set(futures)
        try:
            while pending:
                finished, pending = wait(pending, timeout=0.1, return_when=FIRST_COMPLETED)
                _drain(q, report)
                if cancel is not None and cancel.is_set():
                    stop.set()
                for fut in finished:
                    tv, fp = futures[fut]
                    _, kp, ms = fut.result()  # re-raises Cancelled / VideoError
                    finish(tv, fp, kp, ms)
            _drain(q, report)
        except BaseException:
            stop.set()
            for fut in pending:
                fut.cancel()
            raise


def _drain(q, report) -> None:
    while True:
        try:
            camera, n, of = q.get_nowait()
        except queue.Empty:
            return
        report(camera, n, of)


def _assemble(take: Take, results: dict[str, CachedDetections], joint_set: str,
              cached_names: set[str], settings: dict, paths: dict[str, Path],
              notes: list[str]) -> Keypoints2D:
    F = take.n_frames
    J = next(iter(results.values())).keypoints.shape[1]
    data = np.zeros((F, len(take.videos), J, 3))
    stats, warnings = [], [*take.warnings, *notes]
    for v, tv in enumerate(take.videos):
        det = results[tv.camera]
        rows = take.video_frames(tv.camera)
        ok = rows < det.n_frames
        if not ok.all():
            warnings.append(f"camera {tv.camera}: video frames {rows[~ok].tolist()[:5]}... have "
                            f"no detections (the video decoded only {det.n_frames} frames)")
        data[ok, v] = det.keypoints[rows[ok]]
        st = _stats(tv.camera, data[:, v], det.ms_per_frame, tv.camera in cached_names)
        stats.append(st)
        if st.frames_with_person == 0:
            warnings.append(f"camera {tv.camera}: no person detected in any of the {F} take "
                            f"frames (video {tv.path.name}); its keypoints are all missing")
    for w in warnings[len(take.warnings) + len(notes):]:
        log.info(w)  # returned in meta["warnings"]
    meta = {"detector": settings, "detection": [vars(s) for s in stats],
            "warnings": warnings, "cache_files": {c: str(p) for c, p in paths.items()}}
    return Keypoints2D(data, take.camera_names, joint_set, take.frame_numbers.copy(), take.fps,
                       str(take.root), meta)
