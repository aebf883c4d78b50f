"""The SkelSplat fitter: Gaussian-skeleton fitting of multi-view 2D keypoints.

``fit_take(keypoints, rig, options, progress, cancel) -> FitResult`` is the entry point;
``fit_frames`` is the tensor-level optimiser it runs chunk by chunk.
"""

from .optimise import FrameFit, fit_frames
from .options import FitOptions
from .result import FitResult
from .take import fit_take

__all__ = ["FitOptions", "FitResult", "FrameFit", "fit_frames", "fit_take"]
