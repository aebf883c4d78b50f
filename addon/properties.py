"""Property groups: ``scene.skelsplat`` (the take and its jobs) and ``object.skelsplat``."""

from __future__ import annotations

import bpy
from bpy.props import (
    BoolProperty,
    CollectionProperty,
    EnumProperty,
    FloatProperty,
    IntProperty,
    PointerProperty,
    StringProperty,
)

from ..core.animation import FLOOR_MODES
from ..core.armature import REST_POSES
from ..core.detect.runner import BACKENDS
from ..core.fit.options import DEVICES, MODES, SKELETONS, SMOOTHERS
from .calibration_props import SKELSPLAT_PG_calibration
from .enum_items import enum_items

DEVICE_ITEMS = enum_items(DEVICES, {
    "auto": ("Auto", "CUDA when available, else CPU"),
    "cpu": ("CPU", "Always fit on the CPU"),
    "cuda": ("CUDA", "Fit on an NVIDIA GPU (needs a CUDA build of torch)"),
})
MODE_ITEMS = enum_items(MODES, {
    "fast": ("Fast", "Windowed, batched fitting (same loss, much faster)"),
    "reference": ("Reference", "The authors' full-image per-frame schedule (slow)"),
})
SMOOTH_ITEMS = enum_items(SMOOTHERS, {
    "auto": ("Auto", "Fast mode: Whittaker smoothing (an acceleration penalty over the "
             "whole take, its weight chosen per joint from the data, then the take's "
             "skeleton); reference mode: off. Raw joints are kept"),
    "off": ("Off", "No temporal smoothing (frames fitted independently)"),
    "whittaker": ("Whittaker", "Acceleration penalty over the whole take, weight chosen per "
                  "joint from the data; raw joints are kept"),
    "butterworth": ("Butterworth", "Zero-phase low-pass filter, cut-off chosen per joint from "
                    "the data; raw joints are kept"),
    "robust": ("Robust", "Reject single-frame spikes, then the zero-phase filter; raw joints "
               "are kept"),
})

SKELETON_ITEMS = enum_items(SKELETONS, {
    "auto": ("Auto", "Fast mode: rigid; reference mode: off"),
    "off": ("Off", "Each frame's bones keep the lengths the views give them"),
    "rigid": ("Rigid", "One set of bone lengths for the whole take, every frame posed "
              "under it"),
})

#: Path properties may hold Blender's ``//`` (relative to the .blend); 4.5+ wants it declared.
RELATIVE_PATH = ({"PATH_SUPPORTS_BLEND_RELATIVE"} if bpy.app.version >= (4, 5, 0) else set())

BACKEND_ITEMS = enum_items(BACKENDS, {
    "mediapipe": ("MediaPipe", "MediaPipe Pose (bundled model)"),
    "onnx": ("ONNX", "Top-down ONNX model (RTMPose style)"),
})
REST_POSE_ITEMS = enum_items(REST_POSES, {
    "T": ("T-pose", "Arms level in the rest pose"),
    "A": ("A-pose", "Arms 45 degrees down in the rest pose"),
})
FLOOR_ITEMS = enum_items(FLOOR_MODES, {
    "align": ("Align", "Put the floor found under the feet at Z = 0 with +Z up"),
    "keep": ("Keep", "Stay in the calibration's world"),
})
MODEL_DESCRIPTION = ("The ONNX pose model file (top-down, RTMPose style, COCO-17 joints) "
                     "the ONNX detector runs")
BACKEND_DESCRIPTION = "2D keypoint detector run on the footage"
DEVICE_DESCRIPTION = "Where the fit runs"
MODE_DESCRIPTION = "Fitting schedule: fast (windowed) or the authors' reference settings"
SMOOTH_DESCRIPTION = "Temporal smoothing of the fitted joints (the raw joints are kept)"
SKELETON_DESCRIPTION = "One skeleton per take: constant bone lengths in every frame"
CUTOFF_DESCRIPTION = ("Smoothing cut-off frequency in Hz; 0 chooses it per joint from the "
                      "data (cross-validation)")
#: Default folder of saved fits: beside the .blend.
FITS_DIR_DEFAULT = "//skelsplat_fits"


class SKELSPLAT_PG_camera(bpy.types.PropertyGroup):
    """One row of the capture's camera table (name is the camera name)."""

    width: IntProperty(name="Width", description="Image width in pixels", min=0)
    height: IntProperty(name="Height", description="Image height in pixels", min=0)
    focal_px: FloatProperty(name="Focal", description="Focal length fx in pixels", min=0.0)
    video: StringProperty(name="Video", description="Footage shown behind this camera")
    offset: IntProperty(name="Offset", description="Video frame of take frame 0")


class SKELSPLAT_PG_message(bpy.types.PropertyGroup):
    """A warning line (the text is the name)."""


class SKELSPLAT_PG_joint_error(bpy.types.PropertyGroup):
    """Reprojection error of one joint in the last bake (name is the joint)."""

    mean_px: FloatProperty(name="Mean", description="Mean reprojection error over frames and "
                           "views (px)", precision=2)
    max_px: FloatProperty(name="Max", description="Largest reprojection error (px)", precision=2)


class FitSettings:
    """Mixin: the fit's settings (the names of ``FitOptions``), for ``scene.skelsplat`` and
    the Fit operator alike."""

    device: EnumProperty(name="Device", items=DEVICE_ITEMS, default="auto",
                         description=DEVICE_DESCRIPTION)
    mode: EnumProperty(name="Mode", items=MODE_ITEMS, default="fast",
                       description=MODE_DESCRIPTION)
    smooth: EnumProperty(name="Smoothing", items=SMOOTH_ITEMS, default="auto",
                         description=SMOOTH_DESCRIPTION)
    smooth_cutoff_hz: FloatProperty(name="Cut-off (Hz)", default=0.0, min=0.0, soft_max=30.0,
                                    precision=1, description=CUTOFF_DESCRIPTION)
    skeleton: EnumProperty(name="Skeleton", items=SKELETON_ITEMS, default="auto",
                           description=SKELETON_DESCRIPTION)


class SKELSPLAT_PG_scene(FitSettings, bpy.types.PropertyGroup):
    """The take of this scene: inputs, fit settings, job status and results."""

    take_name: StringProperty(name="Take", description="Name of the take (collections, actions)",
                              default="take")
    calibration_path: StringProperty(name="Calibration", subtype="FILE_PATH", options=RELATIVE_PATH,
                                      description="Calibration file (any supported format)")
    footage_path: StringProperty(name="Footage", subtype="DIR_PATH", options=RELATIVE_PATH,
                                 description="Folder with one video per calibrated camera")
    cameras: CollectionProperty(type=SKELSPLAT_PG_camera,
                                description="The calibrated cameras of the take")
    camera_index: IntProperty(name="Camera", min=0,
                              description="Selected row of the camera table")
    warnings: CollectionProperty(type=SKELSPLAT_PG_message,
                                 description="What the last import could not represent exactly")
    pair_by_order: BoolProperty(
        name="Pair Videos by Order", default=False,
        description="When the video file names do not match the calibration's cameras, pair "
                    "them in sorted file-name order (each pair is listed in a warning); off: "
                    "only videos named after their camera are paired")

    keypoints_path: StringProperty(name="Keypoints", subtype="FILE_PATH", options=RELATIVE_PATH,
                                   description="2D keypoint file or folder (any core format)")
    keypoints_summary: StringProperty(name="Keypoints", description="What is loaded")
    backend: EnumProperty(name="Detector", default="mediapipe", items=BACKEND_ITEMS,
                          description=BACKEND_DESCRIPTION)
    model: StringProperty(name="Model File", subtype="FILE_PATH", options=RELATIVE_PATH,
                          description=MODEL_DESCRIPTION)
    reprojection_px: FloatProperty(
        name="Reprojection Error", default=float("nan"), precision=2,
        description="Mean reprojection error of the delivered motion of the last fit (px): "
                    "the number the run summary and report.html show")
    motion_path: StringProperty(name="Fit", subtype="FILE_PATH", options=RELATIVE_PATH,
                                description="The last fit (SkelSplat motion NPZ), relative to "
                                            "the .blend when it is saved")
    fits_dir: StringProperty(
        name="Fits Folder", subtype="DIR_PATH", default=FITS_DIR_DEFAULT, options=RELATIVE_PATH,
        description="Where fits are saved as NPZ; '//' is the .blend's folder. In an unsaved "
                    "file the fit waits in a temporary file and moves here when the file is "
                    "saved")

    sigma: FloatProperty(name="Sigma", description="Ellipsoid size in standard deviations",
                         default=2.0, min=0.1, max=5.0)
    ellipsoids: BoolProperty(name="Ellipsoids", default=True,
                             description="Show each joint's fitted Gaussian as an ellipsoid")
    raw_empties: BoolProperty(name="Raw joints", default=False,
                              description="Add an empty per joint at the unsmoothed position")
    joint_errors: CollectionProperty(type=SKELSPLAT_PG_joint_error,
                                     description="Reprojection error per joint of the last bake")
    joint_error_index: IntProperty(min=0, description="Selected row of the joint error table")

    export_dir: StringProperty(name="Folder", subtype="DIR_PATH", default="//",
                               options=RELATIVE_PATH,
                               description="Where FBX/BVH files are written")
    overwrite: BoolProperty(name="Overwrite", default=False,
                            description="Replace existing export files")
    add_leaf_bones: BoolProperty(name="Leaf bones", default=False,
                                 description="Add end bones to the FBX (some tools want them)")

    job_kind: StringProperty(name="Job", description="Running background job, empty when idle")
    job_progress: FloatProperty(name="Progress", subtype="FACTOR", min=0.0, max=1.0,
                                description="Fraction of the running job done")
    job_message: StringProperty(name="Status", description="What the running job is doing")
    last_error: StringProperty(name="Error", description="The last job's error, if any")
    calibration: PointerProperty(type=SKELSPLAT_PG_calibration,
                                 description="Board calibration, refinement and sync settings")


class SKELSPLAT_PG_object(bpy.types.PropertyGroup):
    """What SkelSplat knows about an object it created."""

    take_name: StringProperty(name="Take", description="Take this object belongs to")
    run_name: StringProperty(name="Run", description="Bake run that created this object")


classes = (
    SKELSPLAT_PG_camera,
    SKELSPLAT_PG_message,
    SKELSPLAT_PG_joint_error,
    SKELSPLAT_PG_scene,
    SKELSPLAT_PG_object,
)


def attach() -> None:
    """Add the ``skelsplat`` namespaces to Scene and Object (after class registration)."""
    bpy.types.Scene.skelsplat = PointerProperty(type=SKELSPLAT_PG_scene)
    bpy.types.Object.skelsplat = PointerProperty(type=SKELSPLAT_PG_object)


def detach() -> None:
    """Remove what :func:`attach` added (before class unregistration)."""
    for owner in (bpy.types.Object, bpy.types.Scene):
        if hasattr(owner, "skelsplat"):
            del owner.skelsplat


def settings(scene: bpy.types.Scene | None = None) -> SKELSPLAT_PG_scene | None:
    """``scene.skelsplat`` or None when the extension is not registered."""
    scene = scene or bpy.context.scene
    return getattr(scene, "skelsplat", None)
