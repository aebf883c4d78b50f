"""The "Calibration" sub-panel: board calibration, per-camera errors, refinement, sync."""

from __future__ import annotations

import bpy

from .label_rows import LabelRows
from .main_panel import _job_row, _Sub


class SKELSPLAT_UL_calibration_cameras(LabelRows, bpy.types.UIList):
    row_icon = "CAMERA_DATA"

    def columns(self, item):
        return [f"{item.rms_px:.3f} px", f"{item.views} used"]


class SKELSPLAT_UL_offsets(LabelRows, bpy.types.UIList):
    row_icon = "TIME"

    def columns(self, item):
        return [f"{item.offset:+d} frames",
                ("reliable", "CHECKMARK") if item.reliable else ("uncertain", "QUESTION")]


class SKELSPLAT_PT_calibration(_Sub, bpy.types.Panel):
    bl_label = "Calibration"
    bl_options = {"DEFAULT_CLOSED"}

    def draw(self, context):
        layout = self.layout
        props = context.scene.skelsplat
        cal = props.calibration
        layout.prop(cal, "videos")
        col = layout.column(align=True)
        col.prop(cal, "board")
        col.prop(cal, "squares")
        col.prop(cal, "square_mm")
        if cal.board == "charuco":
            col.prop(cal, "marker_mm")
            col.prop(cal, "dictionary")
        col.prop(cal, "model")
        col.prop(cal, "origin_frame")
        row = layout.row()
        row.prop(cal, "out")
        row.prop(cal, "overwrite", text="", icon="FILE_REFRESH")
        if not _job_row(layout, props, "calibrate"):
            layout.operator("skelsplat.calibrate_board", icon="OUTLINER_OB_CAMERA")
        if cal.summary:
            layout.label(text=cal.summary, icon="INFO")
        if cal.cameras:
            layout.label(text="Reprojection error per camera")
            layout.template_list("SKELSPLAT_UL_calibration_cameras", "", cal, "cameras", cal,
                                 "camera_index", rows=3)
        header, body = layout.panel("skelsplat_calibration_refine", default_closed=True)
        header.label(text="Refine from the actor")
        if body:
            body.prop(cal, "known_distance_m")
            if not _job_row(body, props, "refine"):
                body.operator("skelsplat.refine_calibration", icon="ARMATURE_DATA")
        header, body = layout.panel("skelsplat_calibration_sync", default_closed=True)
        header.label(text="Sync")
        if body:
            row = body.row(align=True)
            row.prop(cal, "sync_source", text="")
            row.operator("skelsplat.suggest_offsets", icon="TIME")
            if cal.offsets:
                body.template_list("SKELSPLAT_UL_offsets", "", cal, "offsets", cal,
                                   "offset_index", rows=3)
                body.operator("skelsplat.apply_offsets", icon="CHECKMARK")


classes = (SKELSPLAT_UL_calibration_cameras, SKELSPLAT_UL_offsets, SKELSPLAT_PT_calibration)
