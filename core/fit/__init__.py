"""The SkelSplat fitter: Gaussian-skeleton fitting of multi-view 2D keypoints.

``fit_take(keypoints, rig, options, progress, cancel) -> FitResult`` is the entry point;
``fit_frames`` is the tensor-level optimiser it runs chunk by chunk.

The names below load on first use, so ``core.fit.options`` (the option names the CLI and
the add-on's enums are built from) imports without torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .optimise import FrameFit, fit_frames
    from .options import FitOptions
    from .result import FitResult
    from .take import fit_take

#: public name -> submodule defining it
_HOME = {"FrameFit": "optimise", "fit_frames": "optimise", "FitOptions": "options",
         "FitResult": "result", "fit_take": "take"}

__all__ = ["FitOptions", "FitResult", "FrameFit", "fit_frames", "fit_take"]


def __getattr__(name: str):
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{home}", __name__), name)
    globals()[name] = value
    return value
