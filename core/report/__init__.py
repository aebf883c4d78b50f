"""The run report: headline numbers (computed once), PNG figures and report.html.

``summarize`` -> :class:`RunSummary` (terminal text via ``to_text``), ``make_figures``
(overlays, reprojection heatmap, bone lengths) and ``write_report`` (timings + HTML).
matplotlib is used through its Agg canvas only; nothing here opens a window.
"""

from .build import REPORT_NAME, FrameReader, figure_names, make_figures, write_report
from .figures import (
    OverlayPanel,
    plot_bone_lengths,
    plot_camera_overlays,
    plot_reprojection_errors,
    plot_timings,
)
from .frames import pick_report_frames
from .html import FigureRef, render_html
from .summary import RunSummary, canonical_bones, summarize

__all__ = [
    "REPORT_NAME",
    "FigureRef",
    "FrameReader",
    "OverlayPanel",
    "RunSummary",
    "canonical_bones",
    "figure_names",
    "make_figures",
    "pick_report_frames",
    "plot_bone_lengths",
    "plot_camera_overlays",
    "plot_reprojection_errors",
    "plot_timings",
    "render_html",
    "summarize",
    "write_report",
]
