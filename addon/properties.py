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

from .calibration_props import SKELSPLAT_PG_calibration

DEVICE_ITEMS = [
    ("auto", "Auto", "CUDA when available, else CPU"),
    ("cpu", "CPU", "Always fit on the CPU"),
    ("cuda", "CUDA", "Fit on an NVIDIA GPU (needs a CUDA build of torch)"),
]
MODE_ITEMS = [
    ("fast", "Fast", "Windowed, batched fitting (same loss, much faster)"),
    ("reference", "Reference", "The authors' full-image per-frame schedule (slow)"),
]
SMOOTH_ITEMS = [
    ("auto", "Auto", "Fast mode: robust smoothing (spikes rejected, then a zero-phase filter "
     "whose cut-off is chosen per joint from the data); reference mode: off. Raw joints are "
     "kept"),
    ("off", "Off", "No temporal smoothing (frames fitted independently)"),
    ("butterworth", "Butterworth", "Zero-phase low-pass filter, cut-off chosen per joint from "
     "the data; raw joints are kept"),
    ("robust", "Robust", "Reject single-frame spikes, then the zero-phase filter; raw joints "
     "are kept"),
]


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


class SKELSPLAT_PG_scene(bpy.types.PropertyGroup):
    """The take of this scene: inputs, fit settings, job status and results."""

    take_name: StringProperty(name="Take", description="Name of the take (collections, actions)",
                              default="take")
    calibration_path: StringProperty(name="Calibration", subtype="FILE_PATH",
                                      description="Calibration file (any supported format)")
    footage_path: StringProperty(name="Footage", subtype="DIR_PATH",
                                 description="Folder with one video per calibrated camera")
    cameras: CollectionProperty(type=SKELSPLAT_PG_camera)
    camera_index: IntProperty(name="Camera", min=0)
    warnings: CollectionProperty(type=SKELSPLAT_PG_message)

    keypoints_path: StringProperty(name="Keypoints", subtype="FILE_PATH",
                                   description="2D keypoint file or folder (any core format)")
    keypoints_summary: StringProperty(name="Keypoints", description="What is loaded")
    detector: EnumProperty(name="Detector", default="mediapipe",
                           items=[("mediapipe", "MediaPipe", "MediaPipe Pose (bundled model)"),
                                  ("onnx", "ONNX", "Top-down ONNX model (RTMPose style)")])

    device: EnumProperty(name="Device", items=DEVICE_ITEMS, default="auto")
    mode: EnumProperty(name="Mode", items=MODE_ITEMS, default="fast")
    smooth: EnumProperty(name="Smoothing", items=SMOOTH_ITEMS, default="auto")
    motion_path: StringProperty(name="Fit", subtype="FILE_PATH",
                                description="The last fit (SkelSplat motion NPZ)")

    sigma: FloatProperty(name="Sigma", description="Ellipsoid size in standard deviations",
                         default=2.0, min=0.1, max=5.0)
    ellipsoids: BoolProperty(name="Ellipsoids", default=True,
                             description="Show each joint's fitted Gaussian as an ellipsoid")
    raw_empties: BoolProperty(name="Raw joints", default=False,
                              description="Add an empty per joint at the unsmoothed position")
    joint_errors: CollectionProperty(type=SKELSPLAT_PG_joint_error)
    joint_error_index: IntProperty(min=0)

    export_dir: StringProperty(name="Folder", subtype="DIR_PATH", default="//",
                               description="Where FBX/BVH files are written")
    overwrite: BoolProperty(name="Overwrite", default=False,
                            description="Replace existing export files")
    add_leaf_bones: BoolProperty(name="Leaf bones", default=False,
                                 description="Add end bones to the FBX (some tools want them)")

    job_kind: StringProperty(name="Job", description="Running background job, empty when idle")
    job_progress: FloatProperty(name="Progress", subtype="FACTOR", min=0.0, max=1.0)
    job_message: StringProperty(name="Status")
    last_error: StringProperty(name="Error", description="The last job's error, if any")
    calibration: PointerProperty(type=SKELSPLAT_PG_calibration)


class SKELSPLAT_PG_object(bpy.types.PropertyGroup):
    """What SkelSplat knows about an object it created."""

    take_name: StringProperty(name="Take")
    run_name: StringProperty(name="Run")


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
