"""Capture: calibrated cameras with footage, and 2D keypoint import."""

from __future__ import annotations

import bpy
from bpy.props import BoolProperty, StringProperty

from ..addon import session
from ._common import run_action


class SKELSPLAT_OT_import_capture(bpy.types.Operator):
    """Create one Blender camera per calibrated camera, with its footage as background"""

    bl_idname = "skelsplat.import_capture"
    bl_label = "Import Capture"
    bl_options = {"REGISTER", "UNDO"}

    # SKIP_SAVE: a path given once is never remembered over the panel's fields.
    calibration_path: StringProperty(name="Calibration", subtype="FILE_PATH",
                                     description="Calibration file (any supported format); "
                                                 "empty: the panel's Calibration field",
                                     options={"SKIP_SAVE"})
    footage_path: StringProperty(name="Footage", subtype="DIR_PATH",
                                 description="Folder with one video per camera (optional); "
                                             "empty: the panel's Footage field",
                                 options={"SKIP_SAVE"})
    take_name: StringProperty(name="Take", default="take", description="Name of the take",
                              options={"SKIP_SAVE"})
    pair_by_order: BoolProperty(
        name="Pair Videos by Order", default=False, options={"SKIP_SAVE"},
        description="When the video file names do not match the calibration's cameras, pair "
                    "them in sorted file-name order (each pair is listed in a warning)")

    def invoke(self, context, event):
        props = context.scene.skelsplat
        self.calibration_path = self.calibration_path or props.calibration_path
        self.footage_path = self.footage_path or props.footage_path
        self.take_name = props.take_name or self.take_name
        self.pair_by_order = self.pair_by_order or props.pair_by_order
        return self.execute(context)

    def execute(self, context):
        kw = self.as_keywords()
        return run_action(self, lambda: session.import_capture(context.scene, **kw),
                          "SkelSplat: capture imported")


class SKELSPLAT_OT_import_keypoints(bpy.types.Operator):
    """Load 2D keypoints from a file or folder (OpenPose JSON, NPZ, ... any core format)"""

    bl_idname = "skelsplat.import_keypoints"
    bl_label = "Import Keypoints"
    bl_options = {"REGISTER"}

    keypoints_path: StringProperty(name="Keypoints", subtype="FILE_PATH", options={"SKIP_SAVE"},
                                   description="2D keypoint file or folder (any core format); "
                                               "empty: the panel's Keypoints field")
    fmt: StringProperty(name="Format", default="auto", description="Keypoint format or auto")
    joint_set: StringProperty(name="Joint set", default="",
                              description="Joint set name; empty guesses from the data")

    def invoke(self, context, event):
        self.keypoints_path = self.keypoints_path or context.scene.skelsplat.keypoints_path
        return self.execute(context)

    def execute(self, context):
        kw = self.as_keywords()
        return run_action(self, lambda: session.load_keypoints(context.scene, **kw),
                          "SkelSplat: keypoints loaded")


classes = (SKELSPLAT_OT_import_capture, SKELSPLAT_OT_import_keypoints)
