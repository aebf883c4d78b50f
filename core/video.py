"""Video files through PyAV (FFmpeg): probing, sequential decoding, seeking.

Frames come out as RGB ``uint8`` arrays ``[H, W, 3]`` in *display* orientation: the
container's display matrix (or legacy ``rotate`` tag) is applied, so a phone video shot
upright comes out upright, and ``VideoInfo.width``/``height`` are the displayed size.
Videos are decoded one frame at a time; a whole video is never held in memory.

Every problem caused by the file (missing, unreadable, no video stream, zero frames, a
frame that fails to decode) raises :class:`~skelsplat.core.errors.VideoError` naming the
file, the camera when known, and the frame.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from .errors import VideoError

#: File suffixes treated as videos when a folder is scanned.
VIDEO_SUFFIXES = (".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv")


@dataclass(frozen=True)
class VideoInfo:
    """What a video file holds.

    Attributes:
        path: the file.
        n_frames: number of frames (container count, else counted by demuxing).
        fps: average frame rate (frames per second).
        width, height: displayed size in px (after ``rotation``).
        rotation: counter-clockwise display rotation in degrees, one of 0, 90, 180, 270
            (0 when the file has no display matrix / rotate tag).
        codec: decoder name (``h264``, ``vp9``, ...).
        duration: seconds (``n_frames / fps``).
    """

    path: Path
    n_frames: int
    fps: float
    width: int
    height: int
    rotation: int
    codec: str
    duration: float

    @property
    def size(self) -> tuple[int, int]:
        """Displayed ``(width, height)`` in px."""
        return self.width, self.height


def _where(path: Path, camera: str | None, frame: int | None = None) -> str:
    s = f"video {str(path)!r}"
    if camera:
        s += f" (camera {camera})"
    if frame is not None:
        s += f", frame {frame}"
    return s


def _open(path: Path, camera: str | None):
    import av

    if not path.is_file():
        raise VideoError(f"{_where(path, camera)}: file not found")
    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, OSError, UnicodeDecodeError) as exc:
        raise VideoError(f"{_where(path, camera)}: cannot be opened as a video ({exc})") from exc
    if not container.streams.video:
        container.close()
        raise VideoError(f"{_where(path, camera)}: has no video stream")
    return container


def _normalise_rotation(degrees: float | int | None) -> int:
    """Counter-clockwise degrees to one of 0, 90, 180, 270 (nearest quarter turn)."""
    if degrees is None or not math.isfinite(float(degrees)):
        return 0
    return round(float(degrees) / 90.0) % 4 * 90


def _rotate(image: np.ndarray, rotation: int) -> np.ndarray:
    """Apply a counter-clockwise display rotation to an ``[H, W, C]`` image."""
    k = rotation // 90
    return np.ascontiguousarray(np.rot90(image, k)) if k else image


def _count_packets(path: Path, camera: str | None) -> int:
    container = _open(path, camera)
    try:
        stream = container.streams.video[0]
        return sum(1 for p in container.demux(stream) if p.size > 0)
    finally:
        container.close()


def probe_video(path: str | Path, camera: str | None = None) -> VideoInfo:
    """Read size, frame rate, frame count, rotation and codec of a video.

    The first frame is decoded (to read its display matrix and to prove the file decodes).

    Args:
        path: video file.
        camera: camera name, used only in error messages.

    Raises:
        VideoError: missing / unreadable file, no video stream, zero frames, no frame rate.
    """
    import av

    path = Path(path)
    container = _open(path, camera)
    try:
        stream = container.streams.video[0]
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        if not rate or float(rate) <= 0:
            raise VideoError(f"{_where(path, camera)}: has no frame rate")
        fps = float(rate)
        codec = stream.codec_context.name
        try:
            first = next(container.decode(stream), None)
        except av.error.FFmpegError as exc:
            raise VideoError(f"{_where(path, camera, 0)}: cannot be decoded ({exc})") from exc
        if first is None:
            raise VideoError(f"{_where(path, camera)}: has zero frames")
        rotation = _normalise_rotation(first.rotation)
        w, h = first.width, first.height
        n_frames = int(stream.frames or 0)
    finally:
        container.close()
    if n_frames <= 0:
        n_frames = _count_packets(path, camera)
    if n_frames <= 0:
        raise VideoError(f"{_where(path, camera)}: has zero frames")
    if rotation in (90, 270):
        w, h = h, w
    return VideoInfo(path=path, n_frames=n_frames, fps=fps, width=int(w), height=int(h),
                     rotation=rotation, codec=codec, duration=n_frames / fps)


#: Alias kept for the name promised in the team API list.
open_video = probe_video


def iter_frames(
    path: str | Path,
    start: int = 0,
    stop: int | None = None,
    camera: str | None = None,
    threads: bool = True,
) -> Iterator[tuple[int, np.ndarray]]:
    """Decode frames ``start <= index < stop`` in order, one at a time.

    Yields ``(index, rgb)`` with ``rgb`` a ``[H, W, 3]`` uint8 array in display orientation;
    ``index`` counts decoded frames from 0. Frames before ``start`` are decoded and dropped
    (exact for any stream; use :func:`read_frame` for a single random frame).

    Args:
        threads: let FFmpeg decode with its own frame threads.

    Raises:
        VideoError: the file cannot be opened, or a frame fails to decode (names the index).
    """
    import av

    path = Path(path)
    if start < 0 or (stop is not None and stop < start):
        raise VideoError(f"{_where(path, camera)}: bad frame range {start}..{stop}")
    container = _open(path, camera)
    try:
        stream = container.streams.video[0]
        if threads:
            stream.thread_type = "AUTO"
        index = 0
        decoder = container.decode(stream)
        while stop is None or index < stop:
            try:
                frame = next(decoder, None)
            except av.error.FFmpegError as exc:
                raise VideoError(
                    f"{_where(path, camera, index)}: cannot be decoded ({exc})") from exc
            if frame is None:
                break
            if index >= start:
                rgb = frame.to_ndarray(format="rgb24")
                yield index, _rotate(rgb, _normalise_rotation(frame.rotation))
            index += 1
    finally:
        container.close()


def prefetch(frames: Iterator, depth: int = 4) -> Iterator:
    """Run ``frames`` (e.g. :func:`iter_frames`) in a background thread, ``depth`` ahead.

    FFmpeg decodes outside the GIL, so decoding overlaps with the consumer's work.
    Exceptions of the producer re-raise in the consumer; closing the consumer stops it.
    """
    import queue
    import threading

    q: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    done = object()

    def produce() -> None:
        try:
            for item in frames:
                while not stop.is_set():
                    try:
                        q.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put(done)
        except BaseException as exc:  # handed to the consumer
            q.put(exc)

    worker = threading.Thread(target=produce, daemon=True, name="skelsplat-decode")
    worker.start()
    try:
        while True:
            item = q.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        worker.join(timeout=5)
        close = getattr(frames, "close", None)
        if close is not None and not worker.is_alive():
            close()


def read_frame(path: str | Path, index: int, camera: str | None = None,
               info: VideoInfo | None = None) -> np.ndarray:
    """One frame ``[H, W, 3]`` uint8 (display orientation) by its 0-based index.

    Seeks to the keyframe at or before the frame's timestamp and decodes forward, so the
    cost is bounded by the keyframe interval, not the video length. Pass the video's
    ``info`` from :func:`probe_video` when it is known, to skip probing it again.

    Raises:
        VideoError: index outside the video, or the frame cannot be decoded.
    """
    import av

    path = Path(path)
    info = info or probe_video(path, camera)
    if not 0 <= index < info.n_frames:
        raise VideoError(f"{_where(path, camera, index)}: out of range "
                         f"(the video has {info.n_frames} frames)")
    container = _open(path, camera)
    try:
        stream = container.streams.video[0]
        tb = stream.time_base or Fraction(1, 1)
        start = stream.start_time or 0
        fps = Fraction(info.fps).limit_denominator(100000)
        target_pts = start + int(Fraction(index) / fps / tb)
        container.seek(target_pts, stream=stream, backward=True, any_frame=False)
        for frame in container.decode(stream):
            if frame.pts is None:
                break  # no timestamps: fall back to sequential decoding
            here = round(float((frame.pts - start) * tb * fps))
            if here == index:
                return _rotate(frame.to_ndarray(format="rgb24"),
                               _normalise_rotation(frame.rotation))
            if here > index:
                break
    except av.error.FFmpegError as exc:
        raise VideoError(f"{_where(path, camera, index)}: cannot be decoded ({exc})") from exc
    finally:
        container.close()
    for i, rgb in iter_frames(path, index, index + 1, camera):
        if i == index:
            return rgb
    raise VideoError(f"{_where(path, camera, index)}: could not be decoded")


def list_videos(folder: str | Path) -> list[Path]:
    """Video files directly inside ``folder`` (by suffix), sorted by name."""
    folder = Path(folder)
    if not folder.is_dir():
        raise VideoError(f"{str(folder)!r} is not a folder")
    return sorted(p for p in folder.iterdir()
                  if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES)


def write_video(
    path: str | Path,
    frames: np.ndarray,     # [F, H, W, 3] uint8 RGB
    fps: float = 30.0,
    codec: str = "libx264",
    rotation: int = 0,
    keyframe_interval: int | None = None,
) -> Path:
    """Encode frames into a video file (for tests, demos and synthetic takes).

    Args:
        rotation: counter-clockwise display rotation written as the display matrix.
        keyframe_interval: frames between keyframes (encoder default when None).
    """
    import av

    path = Path(path)
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise VideoError(f"{str(path)!r}: frames must be [F, H, W, 3] uint8, "
                         f"got {frames.shape} {frames.dtype}")
    F, H, W, _ = frames.shape
    if F == 0:
        raise VideoError(f"{str(path)!r}: no frames to write")
    rate = Fraction(fps).limit_denominator(1001)
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream(codec, rate=rate)
        stream.width, stream.height = W, H
        stream.pix_fmt = "yuv420p"
        if codec == "libx264":
            stream.options = {"crf": "12", "preset": "ultrafast"}
        if keyframe_interval:
            stream.codec_context.gop_size = int(keyframe_interval)
        if rotation:
            stream.set_display_rotation(rotation)
        for f in range(F):
            frame = av.VideoFrame.from_ndarray(frames[f], format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path
