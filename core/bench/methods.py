"""The methods the benchmark compares, behind one call: ``method(keypoints, rig) -> X``.

``X`` is [F, J, 3] metres in the keypoints' joint set, NaN where the method gives no
answer. Baselines come from :mod:`.baselines`; the SkelSplat fitter is wrapped from
``skelsplat.core.fit.fit_take`` (its invalid joints become NaN).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..camera import Rig
from ..keypoints.multiview import Keypoints2D
from .baselines import BASELINES, pose2sim, robust_lsq

Method = Callable[[Keypoints2D, Rig], np.ndarray]

#: Baselines that triangulate frame by frame.
TRIANGULATION_BASELINES = ("dlt", "weighted_dlt", "camera_exclusion", "subset_search")
#: Every baseline: the verdicts compare the shipped default with the best of these.
ALL_BASELINES = (*TRIANGULATION_BASELINES, "robust_lsq", "pose2sim")
#: The fitter as shipped (fast mode, every option at its default: rigid skeleton, temporal
#: prior when the take has a frame rate), and its ablations.
DEFAULT = "skelsplat_fast"
SMOOTH_OFF = "skelsplat_fast_smooth_off"
FREE = "skelsplat_fast_free"
BIAS_OFF = "skelsplat_fast_bias_off"
#: The "what the data allow" row (per-frame least squares with ground-truth bone lengths).
ORACLE = "oracle_gt_bones"


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

    # a fixed temporal smoother needs a frame rate; "auto" (the default) adapts to its absence
    run.needs_frame_rate = options.get("smooth", "auto") not in ("off", "auto")
    return run


def baseline(name: str) -> Method:
    """A baseline of :data:`.baselines.BASELINES` as a benchmark method."""
    fn = BASELINES[name]

    def run(keypoints: Keypoints2D, rig: Rig) -> np.ndarray:
        if fn is robust_lsq:
            return robust_lsq(keypoints.data, rig, joint_set=keypoints.joint_set)
        if fn is pose2sim:
            return pose2sim(keypoints.data, rig, keypoints.fps)
        return fn(keypoints.data, rig)

    run.needs_frame_rate = getattr(fn, "needs_frame_rate", False)
    return run


def all_methods(device: str = "auto", include_fitter: bool = True) -> dict[str, Method]:
    """Every baseline, then the fitter as shipped (:data:`DEFAULT`), with ``smooth="off"``
    (:data:`SMOOTH_OFF`), without skeleton or smoothing (:data:`FREE`, frames fitted
    independently) and without the detector-bias correction (:data:`BIAS_OFF`) when the
    fitter is importable."""
    out = {name: baseline(name) for name in BASELINES}
    if include_fitter and fitter_available() is None:
        out[DEFAULT] = fitter("fast", device)
        out[SMOOTH_OFF] = fitter("fast", device, smooth="off")
        out[FREE] = fitter("fast", device, smooth="off", skeleton="off")
        out[BIAS_OFF] = fitter("fast", device, bias_correction=False)
    return out
