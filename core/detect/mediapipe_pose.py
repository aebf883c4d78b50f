"""MediaPipe BlazePose backend (``mediapipe==0.10.21``, ``solutions.pose``).

Only ``model_complexity=1`` is offered: its model (``pose_landmark_full.tflite``) ships
inside the wheel. Complexities 0 and 2 would download a model at run time, which SkelSplat
never does. Output joint set: ``blazepose_33``; confidence = landmark visibility.

MediaPipe's native code (TFLite, absl) writes internal notes straight to file descriptor 2
when its graph starts ("Created TensorFlow Lite XNNPACK delegate", "Feedback manager
requires..."); they are silenced unless ``SKELSPLAT_VERBOSE`` is set (``--verbose``).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

from .base import check_frame

#: Environment variable that keeps the detector's own logging (the CLI's ``--verbose``).
VERBOSE_ENV = "SKELSPLAT_VERBOSE"


@contextmanager
def native_stderr_silenced() -> Iterator[None]:
    """Point file descriptor 2 at the null device for a while (native libraries print
    there directly, bypassing Python); a no-op with ``SKELSPLAT_VERBOSE`` set."""
    if os.environ.get(VERBOSE_ENV):
        yield
        return
    try:
        sys.stderr.flush()
        saved = os.dup(2)
        null = os.open(os.devnull, os.O_WRONLY)
    except (OSError, ValueError):
        yield  # no file descriptor 2 (embedded interpreter): nothing to silence
        return
    try:
        os.dup2(null, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(null)

#: The only model complexity whose weights are inside the mediapipe wheel.
MODEL_COMPLEXITY = 1
N_LANDMARKS = 33


class MediaPipePoseDetector:
    """BlazePose (33 landmarks), tracking across consecutive frames of one video.

    Args:
        min_detection_confidence: person detector threshold.
        min_tracking_confidence: below it, the next frame re-runs the person detector.
        static_image_mode: detect the person in every frame (slower; no tracking).
    """

    joint_set = "blazepose_33"

    def __init__(self, min_detection_confidence: float = 0.5,
                 min_tracking_confidence: float = 0.5,
                 static_image_mode: bool = False) -> None:
        self.min_detection_confidence = float(min_detection_confidence)
        self.min_tracking_confidence = float(min_tracking_confidence)
        self.static_image_mode = bool(static_image_mode)
        self._pose = None
        self._warm = False

    def settings(self) -> dict:
        import mediapipe

        return {"backend": "mediapipe", "version": mediapipe.__version__,
                "model_complexity": MODEL_COMPLEXITY,
                "min_detection_confidence": self.min_detection_confidence,
                "min_tracking_confidence": self.min_tracking_confidence,
                "static_image_mode": self.static_image_mode}

    def _ensure(self):
        if self._pose is None:
            import mediapipe as mp

            self._warm = False
            with native_stderr_silenced():
                self._pose = mp.solutions.pose.Pose(
                    static_image_mode=self.static_image_mode,
                    model_complexity=MODEL_COMPLEXITY,
                    smooth_landmarks=True,
                    enable_segmentation=False,
                    min_detection_confidence=self.min_detection_confidence,
                    min_tracking_confidence=self.min_tracking_confidence,
                )
        return self._pose

    def detect(self, frame_rgb: np.ndarray) -> np.ndarray:
        """[H, W, 3] uint8 RGB -> [33, 3] (u px, v px, visibility); zeros when no person."""
        frame = check_frame(frame_rgb)
        H, W = frame.shape[:2]
        pose = self._ensure()
        if self._warm:
            result = pose.process(frame)
        else:  # the graph starts on the first frame and its native code logs then
            with native_stderr_silenced():
                result = pose.process(frame)
            self._warm = True
        out = np.zeros((N_LANDMARKS, 3))
        if result.pose_landmarks is None:
            return out
        lm = result.pose_landmarks.landmark
        out[:, 0] = [p.x * W for p in lm]
        out[:, 1] = [p.y * H for p in lm]
        out[:, 2] = np.clip([p.visibility for p in lm], 0.0, 1.0)
        return out

    def reset(self) -> None:
        self.close()

    def close(self) -> None:
        if self._pose is not None:
            self._pose.close()
            self._pose = None
