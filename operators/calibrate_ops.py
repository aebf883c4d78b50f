"""Calibration: board calibration, refinement from the actor, frame-offset suggestion."""

from __future__ import annotations

import bpy
from bpy.props import EnumProperty

from ..addon import calibration_session
from ..addon.calibration_props import SYNC_ITEMS
from ._common import JobOperator, run_action


class SKELSPLAT_OT_calibrate_board(JobOperator, bpy.types.Operator):
    """Calibrate the cameras from the board videos (background) and write the TOML"""

    bl_idname = "skelsplat.calibrate_board"
    bl_label = "Calibrate from Board"
    bl_options = {"REGISTER"}
    job_kind = "calibrate"

    def execute(self, context):
        return run_action(self, lambda: calibration_session.start_calibrate(
            context.scene, self.synchronous))


class SKELSPLAT_OT_refine_calibration(JobOperator, bpy.types.Operator):
    """Refine the cameras' positions from the actor's 2D keypoints (background)"""

    bl_idname = "skelsplat.refine_calibration"
    bl_label = "Refine from Actor"
    bl_options = {"REGISTER"}
    job_kind = "refine"

    def execute(self, context):
        return run_action(self, lambda: calibration_session.start_refine(
            context.scene, self.synchronous))


class SKELSPLAT_OT_suggest_offsets(bpy.types.Operator):
    """Suggest per-camera frame offsets (shown in the panel; nothing is applied)"""

    bl_idname = "skelsplat.suggest_offsets"
    bl_label = "Suggest Offsets"
    bl_options = {"REGISTER"}

    source: EnumProperty(name="Sync from", items=SYNC_ITEMS, default="keypoints",
                         description="What the frame offsets are estimated from")

    def invoke(self, context, event):
        self.source = context.scene.skelsplat.calibration.sync_source
        return self.execute(context)

    def execute(self, context):
        return run_action(self, lambda: calibration_session.suggest_offsets(
            context.scene, self.source), "SkelSplat: offsets suggested")


class SKELSPLAT_OT_apply_offsets(bpy.types.Operator):
    """Apply the suggested offsets to the take's keypoints and camera table"""

    bl_idname = "skelsplat.apply_offsets"
    bl_label = "Apply Offsets"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context):
        props = getattr(context.scene, "skelsplat", None)
        return props is not None and len(props.calibration.offsets) > 0

    def execute(self, context):
        return run_action(self, lambda: calibration_session.apply_offsets(context.scene),
                          "SkelSplat: offsets applied")


classes = (SKELSPLAT_OT_calibrate_board, SKELSPLAT_OT_refine_calibration,
           SKELSPLAT_OT_suggest_offsets, SKELSPLAT_OT_apply_offsets)
