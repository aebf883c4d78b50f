"""``scene.skelsplat_retarget``: the Retarget panel's settings, editable bone map, runs list."""

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

from ..core.retarget.bone_map import PRESET_NAMES
from ..core.retarget.solve import ROOT_MOTIONS
from .enum_items import enum_items

PRESET_ITEMS = enum_items(PRESET_NAMES, {
    n: ("Auto", "Guess from the bone names and rest pose") if n == "auto"
    else (n.replace("_", " ").title(), f"{n} preset") for n in PRESET_NAMES})
ROOT_MOTION_ITEMS = enum_items(ROOT_MOTIONS, {
    "keep": ("Keep", "The hips travel the actor's path, scaled by the leg-length ratio"),
    "in_place": ("In place", "Horizontal root motion removed (the character stays put)"),
})
EXPORT_PRESET_ITEMS = [
    ("FBX_UNITY", "FBX Unity", "FBX, -Z forward, Y up, deform bones, no leaf bones"),
    ("FBX_UNREAL", "FBX Unreal", "FBX, X forward, Z up, deform bones, no leaf bones"),
    ("GLB", "glTF (GLB)", "Binary glTF, Y up (web viewers, three.js)"),
    ("BVH", "BVH", "Rotations on every joint, translation on the root only"),
]


def _is_armature(self, obj) -> bool:
    return obj.type == "ARMATURE"


class SKELSPLAT_PG_map_row(bpy.types.PropertyGroup):
    """One role of the bone map (name is the role)."""

    bone: StringProperty(name="Bone", description="Target bone playing this role "
                         "(empty: the role is not driven)")


class SKELSPLAT_PG_run(bpy.types.PropertyGroup):
    """One run of the take (name is the action)."""

    kind: StringProperty(name="Kind", description="bake or retarget")
    owner: StringProperty(name="Object", description="The object the run animates")


class SKELSPLAT_PG_retarget(bpy.types.PropertyGroup):
    """Retarget and export settings of this scene."""

    target: PointerProperty(name="Target", type=bpy.types.Object, poll=_is_armature,
                            description="The character's armature to put the motion on")
    preset: EnumProperty(name="Preset", items=PRESET_ITEMS, default="auto",
                         description="Bone map preset used to fill the map")
    map_path: StringProperty(name="Map file", subtype="FILE_PATH",
                             description="Bone map JSON to save or load")
    bone_map: CollectionProperty(type=SKELSPLAT_PG_map_row,
                                 description="Our skeleton's roles and the target bone of each")
    bone_map_index: IntProperty(name="Role", min=0, description="Selected row of the bone map")
    root_motion: EnumProperty(name="Root motion", items=ROOT_MOTION_ITEMS, default="keep",
                              description="Keep the hips' travel, or remove its horizontal part")
    scale: FloatProperty(name="Scale", default=0.0, min=0.0, soft_max=5.0,
                         description="Root-motion scale; 0 uses the leg-length ratio")
    plant_feet: BoolProperty(name="Plant feet", default=True,
                             description="Hold feet still while they touch the floor")
    progress: FloatProperty(name="Progress", subtype="FACTOR", min=0.0, max=1.0,
                            description="Progress of the running retarget")
    message: StringProperty(name="Status", description="The last retarget's result")
    runs: CollectionProperty(type=SKELSPLAT_PG_run,
                             description="The take's runs: one action per bake or retarget")
    run_index: IntProperty(name="Run", min=0, description="Selected run")
    export_preset: EnumProperty(name="Preset", items=EXPORT_PRESET_ITEMS, default="FBX_UNITY",
                                description="Engine export preset (axes, scale, format)")
    include_mesh: BoolProperty(name="Include mesh", default=False,
                               description="Export the character's skinned meshes too")
    trim_start: IntProperty(name="Start", default=0, min=0,
                            description="First frame to export (0: the action's first)")
    trim_end: IntProperty(name="End", default=0, min=0,
                          description="Last frame to export (0: the action's last)")


classes = (SKELSPLAT_PG_map_row, SKELSPLAT_PG_run, SKELSPLAT_PG_retarget)


def attach() -> None:
    bpy.types.Scene.skelsplat_retarget = PointerProperty(type=SKELSPLAT_PG_retarget)


def detach() -> None:
    if hasattr(bpy.types.Scene, "skelsplat_retarget"):
        del bpy.types.Scene.skelsplat_retarget


def settings(scene: bpy.types.Scene):
    return getattr(scene, "skelsplat_retarget", None)
