"""Headless SkelSplat library: numpy + torch only, never ``bpy``.

Cameras and calibration formats, joint sets, 2D keypoint readers, the Gaussian-skeleton
fitter, video/detection and the benchmark suite. Import submodules directly, e.g.
``from skelsplat.core.camera import Camera, Rig``.
"""

from .errors import (
    CalibrationError,
    Cancelled,
    ExportError,
    FitError,
    KeypointError,
    SkelsplatError,
    VideoError,
)

__all__ = [
    "CalibrationError",
    "Cancelled",
    "ExportError",
    "FitError",
    "KeypointError",
    "SkelsplatError",
    "VideoError",
]
