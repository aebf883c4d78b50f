"""Board calibration of a folder of videos: one camera per video, named by its file name.

:func:`calibrate_videos` is what ``skelsplat calibrate`` and the Blender Calibration panel
run: list the videos, scan each for the board (every ``step``-th frame, sync offsets
applied), then :func:`~.board_calibrate.calibrate_board`. Nothing is written here.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from ..errors import CalibrationError
from ..progress import ProgressFn, or_silent
from ..video import list_videos, probe_video
from .board import BoardSpec
from .board_calibrate import BoardCalibration, calibrate_board
from .board_detect import detect_board_images, video_frames

#: Frames examined per camera when ``step`` is not given (the step is chosen to match).
TARGET_FRAMES = 300


def calibrate_videos(
    videos: str | Path,
    board: BoardSpec,
    model: str = "pinhole",
    origin_frame: int | None = None,
    step: int | None = None,
    offsets: Mapping[str, int] | None = None,
    progress: ProgressFn | None = None,
) -> BoardCalibration:
    """Calibrate the cameras of every video in ``videos`` (camera name = file stem).

    Args:
        step: examine every ``step``-th frame (default: about :data:`TARGET_FRAMES` per video).
        offsets: {camera: frames}; take frame ``t`` is video frame ``t + offset``.
        progress: called with (fraction done, message).

    Raises:
        CalibrationError / VideoError naming the camera and what was missing.
    """
    progress = or_silent(progress)
    paths = list_videos(videos)
    if len(paths) < 2:
        raise CalibrationError(f"{videos}: found {len(paths)} video(s); board calibration "
                               "needs one video per camera and at least two cameras")
    names = [p.stem for p in paths]
    offsets = dict(offsets or {})
    unknown = sorted(set(offsets) - set(names))
    if unknown:
        raise CalibrationError(f"offsets for unknown camera(s) {unknown}; cameras are {names}")
    infos = [probe_video(p, n) for p, n in zip(paths, names)]
    if step is None:
        step = max(1, min(i.n_frames for i in infos) // TARGET_FRAMES)
    dets = []
    for k, (p, n) in enumerate(zip(paths, names)):
        progress(k / (len(paths) + 1), f"finding the board in {n}")
        frames = video_frames(p, n, step, offsets.get(n, 0))
        dets.append(detect_board_images(frames, board, n, source=str(p)))
    progress(len(paths) / (len(paths) + 1), "bundle adjustment")
    result = calibrate_board(dets, board, model, origin_frame)
    progress(1.0, "done")
    return result
