"""Retarget, bone-map, runs, proxy and engine-preset export operators (thin: glue in addon/)."""

from __future__ import annotations

import bpy
from bpy.props import BoolProperty, StringProperty

from ..addon import export, retarget, session, takes
from ..core.errors import ExportError
from ..core.retarget.bone_map import BoneMap
from ._common import run_action


def _take(context) -> str:
    return context.scene.skelsplat.take_name


def refresh_runs(scene: bpy.types.Scene) -> None:
    """Rebuild the panel's runs list from the take's actions."""
    props = scene.skelsplat_retarget
    props.runs.clear()
    for run in takes.take_runs(scene.skelsplat.take_name):
        row = props.runs.add()
        row.name, row.kind = run.action.name, run.kind
        row.owner = run.owner.name if run.owner else ""


def offer_retarget(op: bpy.types.Operator, scene: bpy.types.Scene, armature) -> None:
    """After a bake with a foreign armature selected: make it the Retarget target and say so
    (the selection is never ignored silently)."""
    props = getattr(scene, "skelsplat_retarget", None)
    if props is None:
        return
    props.target = armature
    op.report({"WARNING"}, f"'{armature.name}' is not SkelSplat's skeleton: the fit was baked "
              "onto SkelSplat's own; press Retarget (SkelSplat > Retarget) to put it on "
              f"'{armature.name}'")


class SKELSPLAT_OT_retarget(bpy.types.Operator):
    """Retarget the last fit onto the target armature as a new action (its own actions, rest
    pose and objects are left as they are)"""

    bl_idname = "skelsplat.retarget"
    bl_label = "Retarget"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context):
        props = getattr(context.scene, "skelsplat_retarget", None)
        return context.mode == "OBJECT" and props is not None and props.target is not None

    def execute(self, context):
        scene = context.scene

        def work():
            out = retarget.retarget_scene(scene, session.current_motion(scene), _take(context))
            refresh_runs(scene)
            for w in out.warnings:
                self.report({"WARNING"}, w)

        return run_action(self, work, "SkelSplat: retargeted")


class SKELSPLAT_OT_retarget_fill_map(bpy.types.Operator):
    """Fill the bone map from the preset (Auto: detect the rig or guess from bone names)"""

    bl_idname = "skelsplat.retarget_fill_map"
    bl_label = "Fill Map"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context):
        return run_action(self, lambda: retarget.fill_map_rows(context.scene))


class SKELSPLAT_OT_retarget_save_map(bpy.types.Operator):
    """Save the edited bone map as JSON"""

    bl_idname = "skelsplat.retarget_save_map"
    bl_label = "Save Map"
    overwrite: BoolProperty(name="Overwrite", default=False,
                            description="Replace an existing map file")

    def execute(self, context):
        props = context.scene.skelsplat_retarget

        def work():
            if not props.map_path:
                raise ExportError("choose a map file (.json) first")
            retarget.map_from_rows(context.scene).save(bpy.path.abspath(props.map_path),
                                                       overwrite=self.overwrite)

        return run_action(self, work, "SkelSplat: bone map saved")


class SKELSPLAT_OT_retarget_load_map(bpy.types.Operator):
    """Load a bone map JSON into the editable map"""

    bl_idname = "skelsplat.retarget_load_map"
    bl_label = "Load Map"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context):
        props = context.scene.skelsplat_retarget

        def work():
            bmap = BoneMap.load(bpy.path.abspath(props.map_path))
            for row in props.bone_map:
                row.bone = bmap.bones.get(row.name, "")
            if not props.bone_map:
                for role, bone in bmap.bones.items():
                    row = props.bone_map.add()
                    row.name, row.bone = role, bone
            props["map_name"] = bmap.name

        return run_action(self, work, "SkelSplat: bone map loaded")


class SKELSPLAT_OT_run_action(bpy.types.Operator):
    """Switch to, delete, or push to NLA the selected run of the take"""

    bl_idname = "skelsplat.run_action"
    bl_label = "Run"
    bl_options = {"REGISTER", "UNDO"}
    mode: StringProperty(name="Mode", default="SWITCH",
                         description="SWITCH, DELETE, NLA or REFRESH")

    def execute(self, context):
        scene = context.scene
        props = scene.skelsplat_retarget

        def work():
            if self.mode != "REFRESH":
                if not 0 <= props.run_index < len(props.runs):
                    raise ExportError("pick a run in the list first")
                name = props.runs[props.run_index].name
                {"SWITCH": takes.switch_run, "DELETE": takes.delete_run,
                 "NLA": takes.push_to_nla}[self.mode](_take(context), name)
            refresh_runs(scene)

        return run_action(self, work)


class SKELSPLAT_OT_proxy_mesh(bpy.types.Operator):
    """Add a simple proxy character skinned to the take's skeleton (to judge the motion)"""

    bl_idname = "skelsplat.proxy_mesh"
    bl_label = "Proxy Character"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context):
        return export.find_armature(context.scene) is not None

    def execute(self, context):
        return run_action(self, lambda: takes.proxy_mesh(export.find_armature(context.scene)),
                          "SkelSplat: proxy character added")


class SKELSPLAT_OT_export_preset(bpy.types.Operator):
    """Export the retarget target (else the take's skeleton) with an engine preset"""

    bl_idname = "skelsplat.export_preset"
    bl_label = "Export Preset"
    bl_options = {"REGISTER"}
    filepath: StringProperty(name="File", subtype="FILE_PATH", options={"SKIP_SAVE"},
                             description="Target file; empty: <export folder>/<take>.<ext>")

    def execute(self, context):
        scene = context.scene
        props, rprops = scene.skelsplat, scene.skelsplat_retarget
        armature = rprops.target or export.find_armature(scene)
        kind = rprops.export_preset
        suffix = {"FBX_UNITY": ".fbx", "FBX_UNREAL": ".fbx", "GLB": ".glb", "BVH": ".bvh"}[kind]
        trim = (rprops.trim_start, rprops.trim_end) if rprops.trim_end > 0 else None
        paths = []

        def work():
            if armature is None:
                raise ExportError("nothing to export: bake or retarget first")
            folder = props.export_dir or "//"
            if not folder.endswith(("/", "\\")):
                folder += "/"
            path = self.filepath or f"{folder}{props.take_name}{suffix}"
            fps = scene.render.fps / scene.render.fps_base
            if kind.startswith("FBX"):
                paths.append(export.export_fbx(
                    path, armature=armature, frame_range=trim, overwrite=props.overwrite,
                    preset=kind[4:].lower(), include_mesh=rprops.include_mesh, fps=fps))
            elif kind == "GLB":
                paths.append(export.export_gltf(path, armature=armature, frame_range=trim,
                                                overwrite=props.overwrite, fps=fps,
                                                include_mesh=rprops.include_mesh))
            else:
                paths.append(export.export_bvh(path, armature=armature, frame_range=trim,
                                               overwrite=props.overwrite))

        status = run_action(self, work)
        if paths:
            self.report({"INFO"}, f"SkelSplat: wrote {paths[0]}")
        return status


classes = (SKELSPLAT_OT_retarget, SKELSPLAT_OT_retarget_fill_map, SKELSPLAT_OT_retarget_save_map,
           SKELSPLAT_OT_retarget_load_map, SKELSPLAT_OT_run_action, SKELSPLAT_OT_proxy_mesh,
           SKELSPLAT_OT_export_preset)
