"""The "SkelSplat" sidebar tab: Capture, 2D Keypoints, Fit, Result, Export."""

from __future__ import annotations

import bpy

from ..core.fit.options import resolved_smooth
from .label_rows import LabelRows


def _job_row(layout: bpy.types.UILayout, props, kind: str) -> bool:
    """Progress bar and Cancel button while a ``kind`` job runs; True if it runs."""
    if props.job_kind != kind:
        return False
    row = layout.row(align=True)
    row.progress(factor=props.job_progress, type="BAR",
                 text=props.job_message or f"{kind} running")
    row.operator("skelsplat.cancel", text="", icon="CANCEL").kind = kind
    return True


class SKELSPLAT_UL_cameras(LabelRows, bpy.types.UIList):
    row_icon = "CAMERA_DATA"

    def columns(self, item):
        return [f"{item.width}x{item.height}", f"f {item.focal_px:.0f}px",
                item.video or "no footage", f"{item.offset:+d}"]


class SKELSPLAT_UL_joint_errors(LabelRows, bpy.types.UIList):
    row_icon = "BONE_DATA"

    def columns(self, item):
        return [f"{item.mean_px:.1f} px", f"max {item.max_px:.1f}"]


class SKELSPLAT_PT_main(bpy.types.Panel):
    bl_label = "SkelSplat"
    bl_idname = "SKELSPLAT_PT_main"
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "SkelSplat"

    def draw(self, context):
        props = context.scene.skelsplat
        self.layout.prop(props, "take_name")
        if props.last_error:
            box = self.layout.box()
            box.alert = True
            box.label(text=props.last_error, icon="ERROR")


class _Sub:
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "SkelSplat"
    bl_parent_id = "SKELSPLAT_PT_main"


class SKELSPLAT_PT_capture(_Sub, bpy.types.Panel):
    bl_label = "Capture"

    def draw(self, context):
        layout, props = self.layout, context.scene.skelsplat
        layout.prop(props, "calibration_path")
        layout.prop(props, "footage_path")
        layout.prop(props, "pair_by_order")
        layout.operator("skelsplat.import_capture", icon="OUTLINER_OB_CAMERA")
        for w in props.warnings:  # a pairing by order is always shown, never folded away
            if "paired with cameras by sorted file name" in w.name:
                box = layout.box()
                box.alert = True
                box.label(text="Videos paired by order: check each camera's video",
                          icon="ERROR")
        if props.cameras:
            layout.template_list("SKELSPLAT_UL_cameras", "", props, "cameras", props,
                                 "camera_index", rows=3)
        if props.warnings:
            header, body = layout.panel("skelsplat_capture_warnings", default_closed=True)
            header.label(text=f"Warnings ({len(props.warnings)})", icon="ERROR")
            if body:
                for w in props.warnings:
                    body.label(text=w.name)


class SKELSPLAT_PT_keypoints(_Sub, bpy.types.Panel):
    bl_label = "2D Keypoints"

    def draw(self, context):
        layout, props = self.layout, context.scene.skelsplat
        row = layout.row(align=True)
        row.prop(props, "backend", text="")
        row.operator("skelsplat.detect", icon="VIEWZOOM")
        if props.backend == "onnx":
            layout.prop(props, "model")
        _job_row(layout, props, "detect")
        layout.prop(props, "keypoints_path")
        layout.operator("skelsplat.import_keypoints", icon="IMPORT")
        if props.keypoints_summary:
            layout.label(text=props.keypoints_summary, icon="CHECKMARK")


class SKELSPLAT_PT_fit(_Sub, bpy.types.Panel):
    bl_label = "Fit"

    def draw(self, context):
        layout, props = self.layout, context.scene.skelsplat
        col = layout.column(align=True)
        col.prop(props, "device")
        col.prop(props, "mode")
        col.prop(props, "smooth")
        row = col.row(align=True)
        row.enabled = resolved_smooth(props.smooth, props.mode) != "off"  # else no cut-off
        row.prop(props, "smooth_cutoff_hz")
        col.prop(props, "skeleton")
        layout.prop(props, "fits_dir")
        if not _job_row(layout, props, "fit"):
            layout.operator("skelsplat.fit", icon="PLAY")
        if props.motion_path:
            layout.label(text=bpy.path.basename(props.motion_path), icon="FILE")
            if props.reprojection_px == props.reprojection_px:  # NaN: not fitted here
                layout.label(text=f"Reprojection error {props.reprojection_px:.2f} px (mean)")


class SKELSPLAT_PT_result(_Sub, bpy.types.Panel):
    bl_label = "Result"

    def draw(self, context):
        layout, props = self.layout, context.scene.skelsplat
        col = layout.column(align=True)
        col.prop(props, "ellipsoids")
        sub = col.row()
        sub.active = props.ellipsoids
        sub.prop(props, "sigma")
        col.prop(props, "raw_empties")
        layout.operator("skelsplat.bake", icon="ARMATURE_DATA")
        if props.joint_errors:
            layout.label(text="Reprojection error per joint")
            layout.template_list("SKELSPLAT_UL_joint_errors", "", props, "joint_errors", props,
                                 "joint_error_index", rows=4)


class SKELSPLAT_PT_export(_Sub, bpy.types.Panel):
    bl_label = "Export"

    def draw(self, context):
        layout, props = self.layout, context.scene.skelsplat
        layout.prop(props, "export_dir")
        row = layout.row()
        row.prop(props, "overwrite")
        row.prop(props, "add_leaf_bones")
        row = layout.row(align=True)
        row.operator("skelsplat.export", text="FBX", icon="EXPORT").format = "FBX"
        row.operator("skelsplat.export", text="BVH", icon="EXPORT").format = "BVH"


def draw_status_bar(self, context):
    """Appended to the status bar: the running job's progress."""
    props = getattr(context.scene, "skelsplat", None)
    if props is not None and props.job_kind:
        self.layout.progress(factor=props.job_progress, type="RING",
                             text=f"SkelSplat {props.job_kind}: {props.job_message}")


classes = (
    SKELSPLAT_UL_cameras,
    SKELSPLAT_UL_joint_errors,
    SKELSPLAT_PT_main,
    SKELSPLAT_PT_capture,
    SKELSPLAT_PT_keypoints,
    SKELSPLAT_PT_fit,
    SKELSPLAT_PT_result,
    SKELSPLAT_PT_export,
)


def attach() -> None:
    bpy.types.STATUSBAR_HT_header.append(draw_status_bar)


def detach() -> None:
    bpy.types.STATUSBAR_HT_header.remove(draw_status_bar)
