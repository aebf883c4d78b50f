"""Assemble the run report: figures from the summary's arrays, then report.html.

Two steps so the pipeline can time them separately: :func:`make_figures` (the slow part,
timed as the ``report`` stage) and :func:`write_report` (timing figure + HTML, after the
summary holds every stage's time).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np

from ..atomic import write_text
from ..camera import Rig
from ..keypoints.multiview import Keypoints2D
from ..metrics import nanmean
from ..motion import Motion3D
from ..progress import ProgressFn, or_silent
from ..skeletons import get_joint_set
from .figures import (
    OverlayPanel,
    plot_bone_lengths,
    plot_camera_overlays,
    plot_contacts,
    plot_reprojection_errors,
    plot_timings,
)
from .frames import pick_report_frames
from .html import FigureRef, render_html
from .summary import RunSummary, canonical_bones

#: Reads one footage frame: (camera name, take frame number) -> [H, W, 3] uint8 RGB or None.
FrameReader = Callable[[str, int], "np.ndarray | None"]

REPORT_NAME = "report.html"
TIMINGS_PNG = "timings.png"
CONTACTS_PNG = "contacts.png"


def figure_names(camera_names: list[str]) -> list[str]:
    """File names of every PNG the report writes (beside report.html)."""
    return ([f"overlay_{_safe(c)}.png" for c in camera_names]
            + ["reprojection_error.png", "bone_lengths.png", CONTACTS_PNG, TIMINGS_PNG])


def _safe(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in name)


def _start_reading(pool: ThreadPoolExecutor, reader: FrameReader | None, cameras: list[str],
                   frames: list[int]) -> dict[tuple[str, int], Future]:
    """Queue the decoding of every (camera, frame) footage frame on ``pool`` (decoders
    release the GIL, so cameras decode in parallel, also with the plotting)."""
    if reader is None:
        return {}
    return {(c, f): pool.submit(reader, c, f) for c in cameras for f in frames}


def make_figures(
    out_dir: str | Path,
    summary: RunSummary,
    rig: Rig,
    keypoints: Keypoints2D,  # aligned to ``rig``: data [F, V, J, 3]
    motion: Motion3D,  # canonical fitted motion, F frames
    frame_reader: FrameReader | None = None,
    n_frames: int = 3,
    progress: ProgressFn | None = None,
) -> list[FigureRef]:
    """Write the overlay, reprojection and bone-length PNGs; return their references
    (overlays first)."""
    out_dir = Path(out_dir)
    js = get_joint_set(keypoints.joint_set)
    _, fit_bones = canonical_bones(motion.joint_names)
    rows = pick_report_frames(motion.valid, n_frames)
    frames = [int(motion.frame_numbers[r]) for r in rows]
    n_steps = len(rig) + 2
    report = or_silent(progress)
    workers = max(1, min(len(rig), os.cpu_count() or 1, 4))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        pending = _start_reading(pool, frame_reader, rig.names, frames)
        stats = _stat_figures(out_dir, summary, rig, js.joints, motion.frame_numbers)
        report(2 / n_steps, "reprojection errors and bone lengths")
        overlays = []
        for v, cam in enumerate(rig):
            panels = []
            for r, frame in zip(rows, frames):
                job = pending.get((cam.name, frame))
                panels.append(OverlayPanel(frame, job.result() if job else None,
                                           keypoints.data[r, v], cam.project(motion.joints3d[r])))
            name = f"overlay_{_safe(cam.name)}.png"
            plot_camera_overlays(out_dir / name, cam.name, cam.size, panels, js.bone_indices,
                                 fit_bones)
            footage = "footage" if frame_reader is not None else "no footage (grey canvas)"
            overlays.append(FigureRef(
                "Detections and reprojected fit", name,
                f"{cam.name}: {footage}; green = 2D detections ({js.name}), "
                "magenta = fitted canonical skeleton projected into the camera"))
            report((v + 3) / n_steps, f"overlay {cam.name}")
    return overlays + stats


def _stat_figures(out_dir: Path, summary: RunSummary, rig: Rig, joint_names: Sequence[str],
                  frame_numbers: np.ndarray) -> list[FigureRef]:
    """The reprojection-error heatmap and the bone-length figure."""
    refs = []
    err = summary.reprojection_error_px
    if err is not None:
        plot_reprojection_errors(out_dir / "reprojection_error.png",
                                 nanmean(err, axis=0), rig.names, list(joint_names))
        refs.append(FigureRef("Reprojection error per joint and camera",
                              "reprojection_error.png",
                              "mean over frames of the distance between detection and "
                              "reprojected fitted joint"))
    if summary.bone_lengths_mm is not None and summary.bone_names:
        plot_bone_lengths(out_dir / "bone_lengths.png", summary.bone_lengths_mm,
                          frame_numbers, summary.bone_names)
        refs.append(FigureRef("Bone-length stability", "bone_lengths.png",
                              "each bone's length minus its median over the take, and its "
                              "standard deviation"))
    plot_contacts(out_dir / CONTACTS_PNG, summary.contacts, summary.foot_heights_mm,
                  frame_numbers, None if summary.animation is not None else
                  "not animated (no armature was solved)")
    refs.append(FigureRef("Foot contacts", CONTACTS_PNG,
                          "planted feet (shaded; keyed as left_foot_contact / "
                          "right_foot_contact on the armature) and the height of each "
                          "foot's lowest point above the floor, after foot locking"
                          if summary.animation is not None else "not animated"))
    return refs


def write_report(
    out_dir: str | Path,
    summary: RunSummary,
    figures: list[FigureRef],
    details: dict[str, str] | None = None,
    warnings: list[str] | None = None,
) -> Path:
    """Write the timing figure and report.html (after all stage timings are known)."""
    out_dir = Path(out_dir)
    plot_timings(out_dir / TIMINGS_PNG, summary.timings_s)
    refs = [*figures, FigureRef("Time per stage", TIMINGS_PNG,
                                "wall-clock seconds per pipeline stage")]
    path = out_dir / REPORT_NAME
    return write_text(path, render_html(summary, refs, details, warnings or ()))
