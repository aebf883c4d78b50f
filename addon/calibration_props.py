"""``scene.skelsplat.calibration``: the Calibration panel's settings, results and the
offset suggestion (a PointerProperty inside ``SKELSPLAT_PG_scene``)."""

from __future__ import annotations

import bpy
from bpy.props import (
    BoolProperty,
    CollectionProperty,
    EnumProperty,
    FloatProperty,
    IntProperty,
    StringProperty,
)

from ..core.calibration.board import BOARD_KINDS, DICTIONARIES
from ..core.camera import LENS_MODELS
from .enum_items import enum_items

BOARD_ITEMS = enum_items(BOARD_KINDS, {
    "charuco": ("ChArUco", "Checkerboard with ArUco markers (partial views work)"),
    "checkerboard": ("Checkerboard", "Plain checkerboard (the whole board must be seen)"),
})
MODEL_ITEMS = enum_items(LENS_MODELS, {
    "pinhole": ("Pinhole", "OpenCV pinhole with k1 k2 p1 p2 distortion"),
    "fisheye": ("Fisheye", "OpenCV equidistant fisheye (k1..k4)"),
})
SYNC_ITEMS = [
    ("keypoints", "Keypoints", "From the 2D keypoints and the calibration (epipolar "
     "agreement)"),
    ("audio", "Audio", "From the sound of the footage"),
]
DICTIONARY_ITEMS = [(d, d, "") for d in DICTIONARIES]


class SKELSPLAT_PG_calibration_camera(bpy.types.PropertyGroup):
    """One calibrated camera (name is the camera name) and how well it fits."""

    rms_px: FloatProperty(name="RMS", description="RMS reprojection error (px)", precision=3)
    views: IntProperty(name="Views", description="Board views or detections used")


class SKELSPLAT_PG_offset(bpy.types.PropertyGroup):
    """A suggested frame offset (name is the camera)."""

    offset: IntProperty(name="Offset", description="Suggested frames to add")
    confidence: FloatProperty(name="Confidence", description="Peak ratio (> 1.5 is clear)")
    reliable: BoolProperty(name="Reliable",
                           description="The correlation peak is clear enough to trust")


class SKELSPLAT_PG_calibration(bpy.types.PropertyGroup):
    """Board calibration, refinement from the actor and sync suggestion."""

    videos: StringProperty(name="Board videos", subtype="DIR_PATH",
                           description="Folder with one board video per camera (camera name "
                                       "= file name)")
    board: EnumProperty(name="Board", items=BOARD_ITEMS, default="charuco",
                        description="Kind of calibration board filmed by the cameras")
    squares: StringProperty(name="Squares", default="5x7",
                            description="Squares across x down (squares, not inner corners)")
    square_mm: FloatProperty(name="Square (mm)", default=100.0, min=1.0,
                             description="Side of one printed square in mm (measure it)")
    marker_mm: FloatProperty(name="Marker (mm)", default=75.0, min=1.0,
                             description="ChArUco: side of one marker in mm")
    dictionary: EnumProperty(name="Dictionary", items=DICTIONARY_ITEMS,
                             default="DICT_4X4_50", description="ChArUco: ArUco dictionary")
    model: EnumProperty(name="Lens", items=MODEL_ITEMS, default="pinhole",
                        description="Lens model fitted to every camera")
    origin_frame: IntProperty(name="Floor frame", default=-1, min=-1,
                              description="Frame with the board on the floor (-1: the "
                                          "earliest frame seen by the most cameras)")
    out: StringProperty(name="Save as", subtype="FILE_PATH", default="//calibration.toml",
                        description="Calibration TOML to write")
    overwrite: BoolProperty(name="Overwrite", default=False,
                            description="Replace the calibration file if it exists")
    cameras: CollectionProperty(type=SKELSPLAT_PG_calibration_camera,
                                description="Cameras of the last calibration and their errors")
    camera_index: IntProperty(min=0, description="Selected row of the camera list")
    summary: StringProperty(name="Summary", description="The last calibration's summary")

    known_distance_m: FloatProperty(name="Known distance (m)", default=0.0, min=0.0,
                                    description="Distance between the first two cameras; 0 "
                                                "keeps the calibration's scale")
    sync_source: EnumProperty(name="Sync from", items=SYNC_ITEMS, default="keypoints",
                              description="What the frame offsets are estimated from")
    offsets: CollectionProperty(type=SKELSPLAT_PG_offset,
                                description="Suggested frame offset per camera")
    offset_index: IntProperty(min=0, description="Selected row of the offset list")


classes = (SKELSPLAT_PG_calibration_camera, SKELSPLAT_PG_offset, SKELSPLAT_PG_calibration)
