"""Long actions run as background jobs: detect, fit; cancel; job reports."""

from __future__ import annotations

import bpy
from bpy.props import EnumProperty, StringProperty

from ..addon import jobs, session
from ..addon.properties import BACKEND_DESCRIPTION, BACKEND_ITEMS, MODEL_DESCRIPTION, FitSettings
from ._common import JobOperator, SceneSettings, run_action


class SKELSPLAT_OT_detect(SceneSettings, JobOperator, bpy.types.Operator):
    """Detect 2D keypoints in the footage (background, cached per video)"""

    bl_idname = "skelsplat.detect"
    bl_label = "Detect Keypoints"
    bl_options = {"REGISTER"}
    job_kind = "detect"
    scene_fields = ("backend", "model")
    busy_message = "Detection is running (cancel it first)"

    backend: EnumProperty(name="Detector", items=BACKEND_ITEMS, description=BACKEND_DESCRIPTION)
    model: StringProperty(name="Model File", subtype="FILE_PATH", description=MODEL_DESCRIPTION,
                          options={"SKIP_SAVE"})

    def execute(self, context):
        kw = self.as_keywords()
        return run_action(self, lambda: session.start_detect(context.scene, **kw))


class SKELSPLAT_OT_fit(SceneSettings, FitSettings, JobOperator, bpy.types.Operator):
    """Fit the Gaussian skeleton to the 2D keypoints (background; Blender stays responsive)"""

    bl_idname = "skelsplat.fit"
    bl_label = "Fit"
    bl_options = {"REGISTER"}
    job_kind = "fit"
    scene_fields = ("device", "mode", "smooth", "smooth_cutoff_hz", "skeleton")
    busy_message = "A fit is running (cancel it first)"

    def execute(self, context):
        kw = self.as_keywords()
        return run_action(self, lambda: session.start_fit(context.scene, **kw))


class SKELSPLAT_OT_cancel(bpy.types.Operator):
    """Cancel the running background job; the scene stays as it was"""

    bl_idname = "skelsplat.cancel"
    bl_label = "Cancel"
    bl_options = {"REGISTER", "INTERNAL"}

    kind: StringProperty(name="Job", default="fit", description="Kind of job to cancel")

    def execute(self, context):
        if not jobs.cancel(self.kind):
            self.report({"WARNING"}, f"no {self.kind} job is running")
            return {"CANCELLED"}
        return {"FINISHED"}


class SKELSPLAT_OT_report(bpy.types.Operator):
    """Show a background job's outcome in the status bar and the info log"""

    bl_idname = "skelsplat.report"
    bl_label = "SkelSplat Report"
    bl_options = {"INTERNAL"}

    level: StringProperty(default="INFO", description="Report level (INFO, WARNING, ERROR)")
    message: StringProperty(description="Text shown in the status bar")

    def execute(self, context):
        self.report({self.level}, self.message)
        return {"FINISHED"}


classes = (SKELSPLAT_OT_detect, SKELSPLAT_OT_fit, SKELSPLAT_OT_cancel, SKELSPLAT_OT_report)
