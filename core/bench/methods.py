"""The methods the benchmark compares, behind one call: ``method(keypoints, rig) -> X``.

``X`` is [F, J, 3] metres in the keypoints' joint set, NaN where the method gives no
answer. Baselines come from :mod:`.baselines`; the SkelSplat fitter is wrapped from
``skelsplat.core.fit.fit_take`` (its invalid joints become NaN).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..camera import Rig
from ..keypoints2d import Keypoints2D
from .baselines import BASELINES, robust_lsq

Method = Callable[[Keypoints2D, Rig], np.ndarray]

#: Baselines that triangulate frame by frame (the "best triangulation baseline" of the
#: fitter's accuracy targets is the best of these).
TRIANGULATION_BASELINES = ("dlt", "weighted_dlt", "camera_exclusion", "subset_search")


def fitter_available() -> str | None:
    """None when ``skelsplat.core.fit.fit_take`` imports, else the reason it does not."""
    try:
        from ..fit import FitOptions, fit_take  # noqa: F401
    except ImportError as exc:
        return f"skelsplat.core.fit.fit_take is not available ({exc})"
    return None


def fitter(mode: str = "fast", device: str = "auto", **options: object) -> Method:
    """The SkelSplat fitter in ``mode`` as a benchmark method."""

    def run(keypoints: Keypoints2D, rig: Rig) -> np.ndarray:
        from ..fit import FitOptions, fit_take

        res = fit_take(keypoints, rig, FitOptions(mode=mode, device=device, **options))
        X = np.array(res.joints3d, dtype=float)
        X[~np.asarray(res.valid, dtype=bool)] = np.nan
        return X

    run.needs_frame_rate = options.get("smooth", "off") != "off"  # temporal smoothing
    return run


def baseline(name: str) -> Method:
    """A baseline of :data:`.baselines.BASELINES` as a benchmark method."""
    fn = BASELINES[name]

    def run(keypoints: Keypoints2D, rig: Rig) -> np.ndarray:
        if fn is robust_lsq:
            return robust_lsq(keypoints.data, rig, joint_set=keypoints.joint_set)
        return fn(keypoints.data, rig)

    return run


def all_methods(device: str = "auto", include_fitter: bool = True) -> dict[str, Method]:
    """Every baseline, then ``skelsplat_fast`` and ``skelsplat_fast_robust`` (fast mode with
    robust temporal smoothing) when the fitter is importable."""
    out = {name: baseline(name) for name in BASELINES}
    if include_fitter and fitter_available() is None:
        # explicit: fast mode's default smoothing may depend on the take's frame rate
        out["skelsplat_fast"] = fitter("fast", device, smooth="off")
        out["skelsplat_fast_robust"] = fitter("fast", device, smooth="robust")
    return out
