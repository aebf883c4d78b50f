"""Options of the 2D detection stage: which detector, its model file, the cache."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import SkelsplatError

#: Detector backends offered to users: ``mediapipe`` (BlazePose, bundled model) and
#: ``onnx`` (a user's top-down model file).
BACKENDS = ("mediapipe", "onnx")


@dataclass(frozen=True)
class DetectOptions:
    """How 2D keypoints are detected in a take's footage.

    Attributes:
        backend: ``"mediapipe"`` or ``"onnx"`` (:data:`BACKENDS`).
        model: the ONNX model file (``onnx`` only; required there).
        joint_set: joint set of the ONNX model's outputs (default ``coco_17``).
        use_cache: reuse and write cached detections.
        cache_dir: cache folder (None: ``.skelsplat_cache`` beside the footage).
        workers: processes detecting cameras in parallel (1: in this process).
    """

    backend: str = "mediapipe"
    model: str | Path | None = None
    joint_set: str = "coco_17"
    use_cache: bool = True
    cache_dir: str | Path | None = None
    workers: int = 1

    def check(self) -> None:
        """SkelsplatError (naming the option) when the detector cannot be built as asked."""
        if self.backend not in BACKENDS:
            raise SkelsplatError(f"unknown detector {self.backend!r}; choose one of "
                                 f"{BACKENDS}", option="backend")
        if self.backend == "onnx" and not self.model:
            raise SkelsplatError("the onnx detector needs a model file (an ONNX pose model)",
                                 option="model")
        if self.backend != "onnx" and self.model:
            raise SkelsplatError(f"a model file is only used by the onnx detector, not by "
                                 f"{self.backend!r}", option="model")
        if self.workers < 1:
            raise SkelsplatError(f"detection workers must be >= 1, got {self.workers}",
                                 option="workers")

    def detector_options(self) -> dict:
        """Keyword arguments of :func:`~.runner.make_detector` for :attr:`backend`."""
        if self.backend == "onnx":
            return {"model": str(self.model), "joint_set": self.joint_set}
        return {}
