"""Result: bake the fit onto the armature; export FBX / BVH."""

from __future__ import annotations

import bpy
from bpy.props import BoolProperty, EnumProperty, FloatProperty, StringProperty

from ..addon import export, session
from ..addon.properties import FLOOR_ITEMS, REST_POSE_ITEMS
from ._common import SceneSettings, run_action


class SKELSPLAT_OT_bake(SceneSettings, bpy.types.Operator):
    """Bake the last fit onto the canonical armature (a new action; earlier ones are kept)"""

    bl_idname = "skelsplat.bake"
    bl_label = "Bake"
    bl_options = {"REGISTER", "UNDO"}
    scene_fields = ("sigma", "ellipsoids", "raw_empties")

    sigma: FloatProperty(name="Sigma", default=2.0, min=0.1, max=5.0,
                         description="Ellipsoid size in standard deviations")
    ellipsoids: BoolProperty(name="Ellipsoids", default=True,
                             description="Show each joint's fitted Gaussian as an ellipsoid")
    raw_empties: BoolProperty(name="Raw joints", default=False,
                              description="Add an empty per joint at the unsmoothed position")
    run_name: StringProperty(name="Run", default="",
                             description="Action suffix; empty numbers the runs")
    rest_pose: EnumProperty(name="Rest pose", items=REST_POSE_ITEMS,
                            description="Rest pose of the armature")
    floor: EnumProperty(name="Floor", items=FLOOR_ITEMS, description="Where the take stands")
    lock_feet: BoolProperty(name="Lock feet", default=True,
                            description="Keep planted feet still (the legs follow by IK)")

    @classmethod
    def poll(cls, context):
        if context.mode != "OBJECT":
            cls.poll_message_set("Switch to Object Mode to bake")
            return False
        if not session.has_motion(context.scene):
            cls.poll_message_set("No fit yet: run Fit first (or choose a fit file)")
            return False
        return True

    def execute(self, context):
        kw = self.as_keywords()
        foreign = context.active_object
        status = run_action(self, lambda: session.bake(context.scene, **kw), "SkelSplat: baked")
        if status == {"FINISHED"} and foreign is not None and foreign.type == "ARMATURE" \
                and not export.is_skelsplat_armature(foreign):
            from ..operators.retarget_ops import offer_retarget

            offer_retarget(self, context.scene, foreign)
        return status


class SKELSPLAT_OT_export(SceneSettings, bpy.types.Operator):
    """Export the baked armature with Blender's FBX or BVH exporter (game-engine preset)"""

    bl_idname = "skelsplat.export"
    bl_label = "Export"
    bl_options = {"REGISTER"}
    scene_fields = ("overwrite", "add_leaf_bones")

    format: EnumProperty(name="Format", items=[("FBX", "FBX", "Armature + baked animation"),
                                               ("BVH", "BVH", "Motion capture hierarchy")],
                         description="File format of the export")
    filepath: StringProperty(name="File", subtype="FILE_PATH", options={"SKIP_SAVE"},
                             description="Target file; empty: <export folder>/<take>.<ext>")
    overwrite: BoolProperty(name="Overwrite", default=False,
                            description="Replace an existing file")
    add_leaf_bones: BoolProperty(name="Leaf bones", default=False,
                                 description="Add end bones to the FBX (some tools want them)")

    @classmethod
    def poll(cls, context):
        if export.find_armature(context.scene) is None:
            cls.poll_message_set("Nothing to export: bake a fit onto the armature first")
            return False
        return True

    def execute(self, context):
        kw = self.as_keywords()
        paths = []
        status = run_action(self, lambda: paths.append(session.export(context.scene, **kw)))
        if paths:
            self.report({"INFO"}, f"SkelSplat: wrote {paths[0]}")
        return status


classes = (SKELSPLAT_OT_bake, SKELSPLAT_OT_export)
