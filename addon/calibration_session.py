"""What the Calibration operators call: board calibration (a background job), refinement
from the actor (a job), frame-offset suggestion and, when the user accepts, applying it."""

from __future__ import annotations

import threading

import bpy

from ..core.errors import SkelsplatError
from . import jobs
from .session import KEYPOINTS, _abspath, _props, _rig, import_capture


def _calib(scene: bpy.types.Scene):
    return _props(scene).calibration


def _fill_cameras(cal, rms: dict[str, float], views: dict[str, int]) -> None:
    cal.cameras.clear()
    for name, value in rms.items():
        row = cal.cameras.add()
        row.name, row.rms_px, row.views = name, float(value), int(views.get(name, 0))


def start_calibrate(scene: bpy.types.Scene, synchronous: bool = False) -> jobs.Job:
    """Calibrate the cameras from the board videos (background job); when done, write the
    TOML, fill the per-camera errors and build the cameras in the viewport."""
    from ..core.calibration.board import board_from_options

    cal = _calib(scene)
    if not cal.videos:
        raise SkelsplatError("choose the folder of board videos first")
    out = _abspath(cal.out)
    if out.suffix.lower() != ".toml":
        raise SkelsplatError(f"{out}: the calibration is written as TOML; use a .toml name")
    if out.exists() and not cal.overwrite:
        raise SkelsplatError(f"{out} exists; tick Overwrite to replace it")
    board = board_from_options(cal.board, cal.squares, cal.square_mm, cal.marker_mm,
                               cal.dictionary)
    videos, model = _abspath(cal.videos), cal.model
    origin = None if cal.origin_frame < 0 else cal.origin_frame
    name, overwrite = scene.name, cal.overwrite

    def work(progress, cancel: threading.Event):
        from ..core.calibration.from_videos import calibrate_videos
        from ..core.calibration.quality import write_calibration_with_errors

        result = calibrate_videos(videos, board, model, origin, progress=progress)
        write_calibration_with_errors(result.rig, result.rms_px, "board", out,
                                      board.describe(), overwrite=overwrite)
        return result

    def on_done(result):
        _show_calibration(name, bpy.path.relpath(str(out)) if bpy.data.filepath else str(out),
                          result.rms_px, result.n_views, result.lines[0])
        return result

    return jobs.start("calibrate", work, on_done, scene=scene, synchronous=synchronous)


def _show_calibration(scene_name: str, path: str, rms_px: dict, counts: dict,
                      summary: str) -> None:
    """Show a new calibration in scene ``scene_name`` (when it still exists): the per-camera
    table, the summary line, and the capture re-imported from ``path``."""
    target = bpy.data.scenes.get(scene_name)
    if target is None:
        return
    cal = _calib(target)
    _fill_cameras(cal, rms_px, counts)
    cal.summary = summary
    props = _props(target)
    import_capture(target, path, props.footage_path, props.take_name)


def start_refine(scene: bpy.types.Scene, synchronous: bool = False) -> jobs.Job:
    """Refine the capture's extrinsics from the take's keypoints (background job); writes
    ``<calibration>_refined.toml`` and re-imports the capture from it."""
    props = _props(scene)
    cal = props.calibration
    kp = KEYPOINTS.get(scene.name)
    if kp is None:
        raise SkelsplatError("detect or import the take's 2D keypoints first")
    rig = _rig(props)
    src = _abspath(props.calibration_path)
    out = src.with_name(src.stem + "_refined.toml")
    if out.exists() and not cal.overwrite:
        raise SkelsplatError(f"{out} exists; tick Overwrite to replace it")
    known = ((rig.names[0], rig.names[1], cal.known_distance_m)
             if cal.known_distance_m > 0 and len(rig) > 1 else None)
    name, overwrite = scene.name, cal.overwrite

    def work(progress, cancel: threading.Event):
        from ..core.calibration.quality import write_calibration_with_errors
        from ..core.calibration.refine import refine_extrinsics

        progress(0.05, "refining from the actor")
        result = refine_extrinsics(rig, kp, known_distance=known)
        write_calibration_with_errors(result.rig, result.rms_after_px, "actor", out,
                                      f"refined from {kp.source}", overwrite=overwrite)
        return result

    def on_done(result):
        _show_calibration(name, str(out), result.rms_after_px, result.n_observations,
                          result.lines[0])
        return result

    return jobs.start("refine", work, on_done, scene=scene, synchronous=synchronous)


def suggest_offsets(scene: bpy.types.Scene, source: str = "keypoints"):
    """Fill the suggestion table (nothing is applied)."""
    props = _props(scene)
    cal = props.calibration
    if source == "audio":
        from ..core.audio_sync import estimate_offsets_audio
        from ..core.video import list_videos, probe_video

        if not props.footage_path:
            raise SkelsplatError("import a capture with footage first")
        paths = list_videos(_abspath(props.footage_path))
        if not paths:
            raise SkelsplatError(f"{props.footage_path}: no videos")
        fps = probe_video(paths[0]).fps
        s = estimate_offsets_audio(paths, [p.stem for p in paths], fps)
    else:
        from ..core.sync import estimate_offsets_geometric

        kp = KEYPOINTS.get(scene.name)
        if kp is None:
            raise SkelsplatError("detect or import the take's 2D keypoints first")
        s = estimate_offsets_geometric(_rig(props), kp)
    cal.offsets.clear()
    for c, o in s.offsets.items():
        row = cal.offsets.add()
        row.name, row.offset = c, int(o)
        row.confidence = min(float(s.confidence[c]), 1e6)
        row.reliable = bool(s.reliable[c])
    return s


def apply_offsets(scene: bpy.types.Scene):
    """Apply the accepted suggestion: shift the take's keypoints and add the offsets to the
    camera table; the suggestion is cleared."""
    from ..core.sync import shift_keypoints

    props = _props(scene)
    cal = props.calibration
    offsets = {row.name: row.offset for row in cal.offsets if row.offset}
    if not cal.offsets:
        raise SkelsplatError("suggest offsets first")
    kp = KEYPOINTS.get(scene.name)
    if kp is not None and offsets:
        KEYPOINTS[scene.name] = shift_keypoints(kp, offsets)
    for row in props.cameras:
        row.offset += offsets.get(row.name, 0)
    cal.offsets.clear()
    return offsets
