"""Retarget panel (target, preset, editable map, options, progress), the take's runs, and the
engine presets under Export."""

from __future__ import annotations

import bpy

from ..addon.export import is_skelsplat_armature
from .label_rows import LabelRows
from .main_panel import _Sub


class SKELSPLAT_UL_bone_map(bpy.types.UIList):
    def draw_item(self, context, layout, data, item, icon, active_data, active_property,
                  index=0, flt_flag=0):
        row = layout.row(align=True)
        row.label(text=item.name)
        target = data.target
        if target is not None and target.type == "ARMATURE":
            row.prop_search(item, "bone", target.data, "bones", text="")
        else:
            row.prop(item, "bone", text="")


class SKELSPLAT_UL_runs(LabelRows, bpy.types.UIList):
    row_icon = "ACTION"

    def columns(self, item):
        return [f"{item.kind} on {item.owner or '?'}"]


class SKELSPLAT_PT_retarget(_Sub, bpy.types.Panel):
    bl_label = "Retarget"

    def draw(self, context):
        layout = self.layout
        props = context.scene.skelsplat_retarget
        active = context.active_object
        if active is not None and active.type == "ARMATURE" and \
                not is_skelsplat_armature(active) and props.target != active:
            box = layout.box()
            box.label(text=f"'{active.name}' is not SkelSplat's skeleton", icon="INFO")
            box.label(text="Pick it as the target to put the motion on it")
        layout.prop(props, "target")
        row = layout.row(align=True)
        row.prop(props, "preset", text="")
        row.operator("skelsplat.retarget_fill_map", icon="FILE_REFRESH")
        if props.bone_map:
            layout.template_list("SKELSPLAT_UL_bone_map", "", props, "bone_map", props,
                                 "bone_map_index", rows=6)
        row = layout.row(align=True)
        row.prop(props, "map_path", text="")
        row.operator("skelsplat.retarget_load_map", text="", icon="IMPORT")
        row.operator("skelsplat.retarget_save_map", text="", icon="EXPORT")
        col = layout.column(align=True)
        col.prop(props, "root_motion")
        col.prop(props, "scale")
        col.prop(props, "plant_feet")
        layout.operator("skelsplat.retarget", icon="ARMATURE_DATA")
        if 0.0 < props.progress < 1.0:
            layout.progress(factor=props.progress, type="BAR", text=props.message)
        elif props.message:
            layout.label(text=props.message, icon="CHECKMARK")


class SKELSPLAT_PT_runs(_Sub, bpy.types.Panel):
    bl_label = "Runs"

    def draw(self, context):
        layout = self.layout
        props = context.scene.skelsplat_retarget
        layout.template_list("SKELSPLAT_UL_runs", "", props, "runs", props, "run_index",
                             rows=3)
        row = layout.row(align=True)
        row.operator("skelsplat.run_action", text="Refresh", icon="FILE_REFRESH").mode = \
            "REFRESH"
        row.operator("skelsplat.run_action", text="Switch", icon="PLAY").mode = "SWITCH"
        row.operator("skelsplat.run_action", text="NLA", icon="NLA_PUSHDOWN").mode = "NLA"
        row.operator("skelsplat.run_action", text="", icon="TRASH").mode = "DELETE"
        layout.operator("skelsplat.proxy_mesh", icon="OUTLINER_OB_MESH")


class SKELSPLAT_PT_export_presets(_Sub, bpy.types.Panel):
    bl_label = "Engine Presets"
    bl_parent_id = "SKELSPLAT_PT_export"

    def draw(self, context):
        layout = self.layout
        props = context.scene.skelsplat_retarget
        layout.prop(props, "export_preset")
        layout.prop(props, "include_mesh")
        row = layout.row(align=True)
        row.prop(props, "trim_start")
        row.prop(props, "trim_end")
        layout.operator("skelsplat.export_preset", icon="EXPORT")


classes = (SKELSPLAT_UL_bone_map, SKELSPLAT_UL_runs, SKELSPLAT_PT_retarget, SKELSPLAT_PT_runs,
           SKELSPLAT_PT_export_presets)
