"""Long actions run as background jobs: detect, fit; cancel; job reports."""

from __future__ import annotations

import bpy
from bpy.props import BoolProperty, EnumProperty, StringProperty

from ..addon import jobs, session
from ..addon.properties import (
    DETECTOR_ITEMS,
    DEVICE_DESCRIPTION,
    DEVICE_ITEMS,
    MODE_DESCRIPTION,
    MODE_ITEMS,
    MODEL_DESCRIPTION,
    SMOOTH_DESCRIPTION,
    SMOOTH_ITEMS,
)
from ._common import run_action

_SYNC = "Run to completion before returning (scripts, batch, tests)"


class SKELSPLAT_OT_detect(bpy.types.Operator):
    """Detect 2D keypoints in the footage (background, cached per video)"""

    bl_idname = "skelsplat.detect"
    bl_label = "Detect Keypoints"
    bl_options = {"REGISTER"}

    detector: EnumProperty(name="Detector", items=DETECTOR_ITEMS,
                           description="2D keypoint detector run on the footage")
    model: StringProperty(name="Model File", subtype="FILE_PATH", description=MODEL_DESCRIPTION,
                          options={"SKIP_SAVE"})
    synchronous: BoolProperty(name="Synchronous", default=False, description=_SYNC,
                              options={"SKIP_SAVE"})

    @classmethod
    def poll(cls, context):
        if jobs.running("detect"):
            cls.poll_message_set("Detection is running (cancel it first)")
            return False
        return True

    def invoke(self, context, event):
        props = context.scene.skelsplat
        self.detector, self.model = props.detector, props.model
        return self.execute(context)

    def execute(self, context):
        kw = self.as_keywords()
        return run_action(self, lambda: session.start_detect(context.scene, **kw))


class SKELSPLAT_OT_fit(bpy.types.Operator):
    """Fit the Gaussian skeleton to the 2D keypoints (background; Blender stays responsive)"""

    bl_idname = "skelsplat.fit"
    bl_label = "Fit"
    bl_options = {"REGISTER"}

    device: EnumProperty(name="Device", items=DEVICE_ITEMS, default="auto",
                         description=DEVICE_DESCRIPTION)
    mode: EnumProperty(name="Mode", items=MODE_ITEMS, default="fast",
                       description=MODE_DESCRIPTION)
    smooth: EnumProperty(name="Smoothing", items=SMOOTH_ITEMS, default="auto",
                         description=SMOOTH_DESCRIPTION)
    synchronous: BoolProperty(name="Synchronous", default=False, description=_SYNC,
                              options={"SKIP_SAVE"})

    @classmethod
    def poll(cls, context):
        if jobs.running("fit"):
            cls.poll_message_set("A fit is running (cancel it first)")
            return False
        return True

    def invoke(self, context, event):
        props = context.scene.skelsplat
        self.device, self.mode, self.smooth = props.device, props.mode, props.smooth
        return self.execute(context)

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
