"""The stages of the main job, shared by every front end: ``skelsplat run``
(:func:`~skelsplat.core.pipeline.run_pipeline`), ``skelsplat fit`` and ``skelsplat detect``,
and the Blender add-on's Detect and Fit jobs.

calibration (:func:`read_rig`) -> footage (:func:`read_footage`) -> 2D keypoints
(:func:`detect_keypoints` or :func:`read_keypoints_file`, then :func:`prepare_keypoints`)
-> fit (:func:`fit_keypoints`) -> export (:func:`export_motion`); the report is
``core.report``. Each stage takes one :class:`TakeSettings`, which holds the detection's
:class:`~skelsplat.core.detect.DetectOptions` and the fitter's
:class:`~skelsplat.core.fit.FitOptions`: the frame rate, the cache and the model file are
decided here, once, for every front end.

Frame rate of a take (:func:`take_fps`): ``TakeSettings.fps``, else the keypoints', else the
footage's; when none is known, :data:`ASSUMED_FPS` with a warning (the fit, its smoothing,
the TRC file and the Blender scene all need one).

Warnings go to a ``warn(message)`` callable; errors are :class:`~skelsplat.core.errors.
SkelsplatError` whose ``option`` names the setting (the front ends add their flag or field).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .camera import Rig
from .detect.options import DetectOptions
from .errors import SkelsplatError
from .fit.options import resolved_smooth
from .keypoints.multiview import Keypoints2D
from .progress import ProgressFn
from .sanity import check_cutoff, check_keypoints, check_rate, check_rig

if TYPE_CHECKING:  # torch loads only when a fit starts
    from .fit import FitOptions, FitResult
    from .footage import Take
    from .motion import Motion3D

WarnFn = Callable[[str], None]

#: Frame rate assumed when neither the settings, the keypoints nor the footage give one.
ASSUMED_FPS = 30.0


def _fit_options() -> FitOptions:
    from .fit.options import FitOptions

    return FitOptions()


def _ignore(message: str) -> None:
    pass


@dataclass
class TakeSettings:
    """How a take is processed, from footage to motion (one object, built once by the front
    end, passed to every stage).

    Attributes:
        detect: the 2D detector, its model file and the cache (``DetectOptions``).
        fit: the fitter (``FitOptions``).
        fps: frame rate of the take, overriding the keypoints' and the footage's.
        offsets: camera -> frame offset (take frame t = video frame t + offset).
        pair_by_order: pair videos whose names do not match the cameras in sorted file-name
            order (listed in a warning); otherwise only matching names are paired.
        mapping: explicit camera -> video file assignments.
    """

    detect: DetectOptions = field(default_factory=DetectOptions)
    fit: FitOptions = field(default_factory=_fit_options)
    fps: float | None = None
    offsets: dict[str, int] | None = None
    pair_by_order: bool = False
    mapping: dict[str, str | Path] | None = None

    def check(self) -> None:
        """SkelsplatError for a frame rate or a smoothing cut-off that can never work."""
        check_rate(self.fps, "the frame rate", option="fps")
        check_cutoff(self.fit.smooth_cutoff_hz, self.fps, "the smoothing cut-off",
                     option="smooth_cutoff_hz")


# --------------------------------------------------------------------------- stages
def read_rig(calibration: str | Path, warn: WarnFn = _ignore) -> Rig:
    """The calibration (any format of ``read_calibration``), checked: cameras at one spot
    are an error, implausible ones a warning."""
    from .calibration import read_calibration

    rig = read_calibration(calibration)
    for message in check_rig(rig):
        warn(message)
    return rig


def read_footage(videos: str | Path | Sequence[str | Path], rig: Rig | None,
                 settings: TakeSettings, warn: WarnFn = _ignore) -> Take:
    """Videos matched to the cameras (``core.footage.read_take``), with the settings'
    offsets, mapping and pairing rule; the rig's image sizes are reconciled to the footage
    (``Take.rig``)."""
    from .footage import read_take

    if not isinstance(videos, (str, Path)) and len(videos) == 1:
        videos = videos[0]
    take = read_take(videos, rig, mapping=settings.mapping, offsets=settings.offsets,
                     allow_sorted=settings.pair_by_order)
    for message in take.warnings:
        warn(message)
    return take


def detect_keypoints(take: Take, settings: TakeSettings, progress: ProgressFn | None = None,
                     cancel: object | None = None, warn: WarnFn = _ignore) -> Keypoints2D:
    """2D keypoints of every camera of ``take`` (``core.detect.detect_take``), cached as
    ``settings.detect`` says; warnings the footage stage already gave are not repeated."""
    from .detect import detect_take

    options = settings.detect
    options.check()
    keypoints = detect_take(take, backend=options.backend, options=options.detector_options(),
                            use_cache=options.use_cache, cache_dir=options.cache_dir,
                            workers=options.workers, progress=progress, cancel=cancel)
    for message in keypoints.meta.get("warnings", [])[len(take.warnings):]:
        warn(str(message))
    return keypoints


def read_keypoints_file(path: str | Path | Sequence[str | Path], rig: Rig | None,
                        settings: TakeSettings, fmt: str = "auto",
                        joint_set: str | None = None) -> Keypoints2D:
    """Precomputed 2D keypoints (any format of ``read_keypoints``) named like ``rig``'s
    cameras (None: as the file names them), shifted by the settings' offsets."""
    from .keypoints import read_keypoints

    if not isinstance(path, (str, Path)) and len(path) == 1:
        path = path[0]
    return read_keypoints(path, fmt=fmt, joint_set=joint_set, rig=rig,
                          offsets=settings.offsets)


def take_fps(settings: TakeSettings, keypoints: Keypoints2D, take: Take | None = None
             ) -> tuple[float, str | None]:
    """The take's frame rate (see the module docstring) and a warning when it was assumed."""
    fps = settings.fps or keypoints.fps or (take.fps if take is not None else None)
    if fps:
        return float(fps), None
    return ASSUMED_FPS, (f"the keypoints carry no frame rate and there is no footage; "
                         f"assuming {ASSUMED_FPS:g} fps (give the take's frame rate)")


def prepare_keypoints(keypoints: Keypoints2D, rig: Rig, settings: TakeSettings,
                      take: Take | None = None, warn: WarnFn = _ignore) -> Keypoints2D:
    """The keypoints the fit gets: in ``rig``'s camera order, only frames the footage covers
    (with ``take``), checked (``core.sanity.check_keypoints``: far-off points dropped with a
    warning, nothing left to fit an error), at the take's frame rate (:func:`take_fps`)."""
    keypoints = keypoints.aligned_to(rig)
    if take is not None:
        keypoints = _restrict_to_frames(keypoints, take.frame_numbers, warn)
    keypoints, found = check_keypoints(keypoints, rig, offsets=settings.offsets)
    for message in found:
        warn(message)
    fps, note = take_fps(settings, keypoints, take)
    if note:
        warn(note)
    check_cutoff(settings.fit.smooth_cutoff_hz, fps, "the smoothing cut-off",
                 option="smooth_cutoff_hz")
    fit = settings.fit
    if fit.smooth_cutoff_hz is not None and resolved_smooth(fit.smooth, fit.mode) == "off":
        warn(f"the smoothing cut-off ({fit.smooth_cutoff_hz:g} Hz) is not used: no smoothing "
             f"runs (smooth={fit.smooth!r} in {fit.mode} mode)")
    if keypoints.fps != fps:
        keypoints = keypoints.replace(fps=fps)
    return keypoints


def fit_keypoints(keypoints: Keypoints2D, rig: Rig, settings: TakeSettings,
                  progress: ProgressFn | None = None, cancel: object | None = None
                  ) -> FitResult:
    """The fit (``core.fit.fit_take``) of keypoints from :func:`prepare_keypoints`; its
    result carries the take's frame rate and frame numbers."""
    from .fit import fit_take

    return fit_take(keypoints, rig, settings.fit, progress=progress, cancel=cancel)


def export_motion(motion: Motion3D, path: str | Path, overwrite: bool = False) -> Path:
    """Write the motion (.npz, .json, .trc, .c3d by suffix); refuses to clobber unless
    ``overwrite``."""
    from .export3d import write_motion

    return write_motion(motion, path, overwrite=overwrite)


def _restrict_to_frames(keypoints: Keypoints2D, frames: np.ndarray, warn: WarnFn
                        ) -> Keypoints2D:
    """Keep only keypoint rows whose frame the footage covers."""
    keep = np.isin(keypoints.frame_numbers, frames)
    if keep.all():
        return keypoints
    if not keep.any():
        raise SkelsplatError(f"{keypoints.source}: no keypoint frame lies in the footage's "
                             f"frames {int(frames[0])}..{int(frames[-1])}")
    warn(f"{int((~keep).sum())} keypoint frames lie outside the footage and are ignored")
    rows = np.flatnonzero(keep)
    return keypoints.replace(data=keypoints.data[rows], frame_numbers=keypoints.frame_numbers[rows])
