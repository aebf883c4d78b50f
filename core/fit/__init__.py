"""The SkelSplat fitter: Gaussian-skeleton fitting of multi-view 2D keypoints.

``fit_take(keypoints, rig, options, progress, cancel) -> FitResult`` is the entry point;
``fit_frames`` is the tensor-level optimiser it runs chunk by chunk. The names load on first
use, so reading ``FitOptions`` (the add-on's settings, the CLI's choices) does not import
torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .optimise import FrameFit, fit_frames
    from .options import FitOptions
    from .result import FitResult
    from .take import fit_take

__all__ = ["FitOptions", "FitResult", "FrameFit", "fit_frames", "fit_take"]

_HOME = {"FitOptions": ".options", "FitResult": ".result", "FrameFit": ".optimise",
         "fit_frames": ".optimise", "fit_take": ".take"}


def __getattr__(name: str):
    if name in _HOME:
        return getattr(importlib.import_module(_HOME[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
