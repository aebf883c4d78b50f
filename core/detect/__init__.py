"""2D pose detection for takes: backends behind one interface, caching, progress.

- :class:`~.base.Detector`: the protocol (``detect(frame_rgb) -> [J, 3]``, ``joint_set``).
- Backends: ``mediapipe`` (:class:`~.mediapipe_pose.MediaPipePoseDetector`, BlazePose 33,
  model complexity 1 only) and ``onnx`` (:class:`~.onnx_topdown.OnnxTopDownDetector`, a
  user's RTMPose-style model file). Precomputed keypoints are read by
  ``skelsplat.core.keypoints.read_keypoints`` instead.
- :class:`~.options.DetectOptions`: detector, model file, cache (one settings object).
- :func:`~.runner.detect_take`: every camera of a take -> ``Keypoints2D``, cached per camera
  in ``<take>/.skelsplat_cache`` (:mod:`.cache`).

Backends import their heavy dependency (mediapipe, onnxruntime) only when built.
"""

from .base import Detector, detect_batch
from .cache import CACHE_DIRNAME, load_cached, video_fingerprint
from .options import DetectOptions
from .runner import BACKENDS, CameraStats, detect_take, detect_video, make_detector

__all__ = [
    "BACKENDS",
    "CACHE_DIRNAME",
    "CameraStats",
    "DetectOptions",
    "Detector",
    "detect_batch",
    "detect_take",
    "detect_video",
    "load_cached",
    "make_detector",
    "video_fingerprint",
]
