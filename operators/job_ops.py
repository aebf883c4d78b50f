"""Long actions run as background jobs: detect, fit; cancel; job reports."""

from __future__ import annotations

import bpy
from bpy.props import BoolProperty, EnumProperty, StringProperty

from ..addon import jobs, session
from ..addon.properties import DEVICE_ITEMS, MODE_ITEMS, SMOOTH_ITEMS
from ._common import run_action

_SYNC = "Run to completion before returning (scripts, batch, tests)"


class SKELSPLAT_OT_detect(bpy.types.Operator):
    """Detect 2D keypoints in the footage (background, cached per video)"""

    bl_idname = "skelsplat.detect"
    bl_label = "Detect Keypoints"
    bl_options = {"REGISTER"}

    detector: EnumProperty(name="Detector", items=[("mediapipe", "MediaPipe", ""),
                                                   ("onnx", "ONNX", "")])
    synchronous: BoolProperty(name="Synchronous", default=False, description=_SYNC,
                              options={"SKIP_SAVE"})

    @classmethod
    def poll(cls, context):
        return not jobs.running("detect")

    def invoke(self, context, event):
        self.detector = context.scene.skelsplat.detector
        return self.execute(context)

    def execute(self, context):
        kw = self.as_keywords()
        return run_action(self, lambda: session.start_detect(context.scene, **kw))


class SKELSPLAT_OT_fit(bpy.types.Operator):
    """Fit the Gaussian skeleton to the 2D keypoints (background; Blender stays responsive)"""

    bl_idname = "skelsplat.fit"
    bl_label = "Fit"
    bl_options = {"REGISTER"}

    device: EnumProperty(name="Device", items=DEVICE_ITEMS, default="auto")
    mode: EnumProperty(name="Mode", items=MODE_ITEMS, default="fast")
    smooth: EnumProperty(name="Smoothing", items=SMOOTH_ITEMS, default="auto")
    synchronous: BoolProperty(name="Synchronous", default=False, description=_SYNC,
                              options={"SKIP_SAVE"})

    @classmethod
    def poll(cls, context):
        return not jobs.running("fit")

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

    kind: StringProperty(name="Job", default="fit")

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

    level: StringProperty(default="INFO")
    message: StringProperty()

    def execute(self, context):
        self.report({self.level}, self.message)
        return {"FINISHED"}


classes = (SKELSPLAT_OT_detect, SKELSPLAT_OT_fit, SKELSPLAT_OT_cancel, SKELSPLAT_OT_report)
