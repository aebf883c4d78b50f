"""The detector interface shared by every 2D pose backend.

A detector turns one RGB frame into the keypoints of one person in its own joint set:
``[J, 3]`` = (u, v) in image pixels of the frame it was given, and a confidence in [0, 1]
(0 = not detected). Detectors may track across consecutive frames (``reset()`` starts a
new sequence), so one instance serves one video at a time.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class Detector(Protocol):
    """What :func:`~skelsplat.core.detect.runner.detect_take` needs from a backend."""

    #: registered joint set name of the J axis (``core.skeletons``).
    joint_set: str

    def detect(self, frame_rgb: np.ndarray) -> np.ndarray:
        """``frame_rgb`` [H, W, 3] uint8 -> keypoints [J, 3] (u px, v px, confidence)."""
        ...

    def reset(self) -> None:
        """Forget tracking state: the next frame starts a new video."""
        ...

    def settings(self) -> dict:
        """JSON-serialisable settings that change the output (the cache key uses them)."""
        ...

    def close(self) -> None:
        """Release native resources."""
        ...


def detect_batch(detector: Detector, frames: np.ndarray) -> np.ndarray:
    """Run ``detector`` on consecutive frames ``[N, H, W, 3]`` -> ``[N, J, 3]``."""
    return np.stack([detector.detect(f) for f in frames]) if len(frames) else np.zeros((0, 0, 3))


def check_frame(frame_rgb: np.ndarray) -> np.ndarray:
    """Validate an RGB frame: ``[H, W, 3]`` uint8 (raises ValueError otherwise)."""
    frame = np.asarray(frame_rgb)
    if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
        raise ValueError(f"a frame must be [H, W, 3] uint8 RGB, got {frame.shape} {frame.dtype}")
    return frame
