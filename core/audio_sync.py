"""Suggest per-camera frame offsets from the videos' sound (a clap, speech, footsteps).

Each file's first audio stream is decoded with PyAV, mixed to mono and resampled to
``rate`` Hz; its loudness envelope (absolute value, smoothed over 5 ms, log-compressed,
standardised) is cross-correlated with the reference camera's by FFT. The lag with the
highest correlation, in seconds, becomes frames with the video frame rate. Confidence is
the peak ratio against the best lag more than 0.1 s away, as for the motion suggestion.

Nothing is applied: the result is a :class:`~.sync.SyncSuggestion` the user may accept.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .errors import VideoError
from .sync import SyncSuggestion


def read_audio(path: str | Path, rate: int = 8000, camera: str | None = None,
               max_seconds: float | None = None) -> np.ndarray:  # [S] float32 mono
    """The first audio stream of a media file as mono samples at ``rate`` Hz.

    Raises:
        VideoError naming the file (and camera) when it cannot be read or has no audio.
    """
    import av

    path = Path(path)
    where = f"{path}" + (f" (camera {camera})" if camera else "")
    if not path.is_file():
        raise VideoError(f"{where}: file not found")
    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, OSError) as exc:
        raise VideoError(f"{where}: cannot be opened ({exc})") from None
    try:
        if not container.streams.audio:
            raise VideoError(f"{where}: has no audio track; sync from the keypoints' motion "
                             "instead")
        stream = container.streams.audio[0]
        resampler = av.AudioResampler(format="fltp", layout="mono", rate=rate)
        chunks, n = [], 0
        for frame in container.decode(stream):
            for out in resampler.resample(frame):
                a = out.to_ndarray().reshape(-1)
                chunks.append(a)
                n += len(a)
            if max_seconds is not None and n >= max_seconds * rate:
                break
        for out in resampler.resample(None):
            chunks.append(out.to_ndarray().reshape(-1))
    except av.error.FFmpegError as exc:
        raise VideoError(f"{where}: the audio cannot be decoded ({exc})") from None
    finally:
        container.close()
    if not chunks:
        raise VideoError(f"{where}: the audio track is empty")
    return np.concatenate(chunks).astype(np.float32)


def loudness_envelope(samples: np.ndarray, rate: int, window_s: float = 0.005) -> np.ndarray:
    """[S] samples -> [S] standardised log loudness (smoothed |x|)."""
    w = max(1, round(window_s * rate))
    env = np.convolve(np.abs(samples.astype(float)), np.ones(w) / w, mode="same")
    env = np.log(env + 1e-4)
    sd = env.std()
    return (env - env.mean()) / (sd if sd > 1e-12 else 1.0)


def audio_lag_seconds(ref: np.ndarray, other: np.ndarray, rate: int, max_lag_s: float
                      ) -> tuple[float, float, float]:
    """(lag s, correlation, peak ratio): ``other[t + lag]`` sounds like ``ref[t]``."""
    n = len(ref) + len(other)
    size = 1 << (n - 1).bit_length()
    cc = np.fft.irfft(np.fft.rfft(other, size) * np.conj(np.fft.rfft(ref, size)), size)
    m = int(max_lag_s * rate)
    lags = np.arange(-m, m + 1)
    r = cc[lags % size] / max(min(len(ref), len(other)), 1)
    best = int(np.argmax(r))
    far = np.abs(lags - lags[best]) > 0.1 * rate
    second = float(r[far].max()) if far.any() else -np.inf
    ratio = float(r[best] / second) if second > 1e-9 else float("inf")
    return float(lags[best] / rate), float(r[best]), ratio


def estimate_offsets_audio(
    videos: Sequence[str | Path],
    cameras: Sequence[str],
    fps: float,
    reference: str | None = None,
    max_lag_frames: int = 60,
    rate: int = 8000,
) -> SyncSuggestion:
    """Frame offsets from the sound of every video (see the module docstring).

    Take frame ``t`` reads video frame ``t + offset``; offsets are rounded to whole frames.
    """
    names = [str(c) for c in cameras]
    if len(names) != len(videos) or len(names) < 2:
        raise VideoError("audio sync needs one video per camera and at least two cameras")
    ref = names[0] if reference is None else reference
    if ref not in names:
        raise VideoError(f"reference camera {ref!r} is not one of {names}")
    env = {c: loudness_envelope(read_audio(p, rate, c), rate) for c, p in zip(names, videos)}
    offsets, conf, corr = {}, {}, {}
    for c in names:
        if c == ref:
            offsets[c], conf[c], corr[c] = 0, float("inf"), 1.0
            continue
        lag_s, r, ratio = audio_lag_seconds(env[ref], env[c], rate, max_lag_frames / fps)
        offsets[c] = round(lag_s * fps)
        corr[c], conf[c] = r, ratio
    return SyncSuggestion(ref, offsets, conf, corr, max_lag_frames)
