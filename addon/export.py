"""FBX / BVH export of a baked armature through Blender's own exporters, game-engine presets.

Presets: armature only, baked animation over the take's frame range, no leaf bones unless
asked, scale 1 (metres), -Z forward / Y up for FBX (what Unity and Unreal import). An
existing file is never overwritten unless ``overwrite`` is True.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import bpy

from ..core.errors import ExportError
from .capture import ROLE

_ADDONS = {"fbx": "io_scene_fbx", "bvh": "io_anim_bvh"}


def ensure_exporter(kind: str) -> None:
    """Enable Blender's bundled FBX/BVH add-on when it is not loaded (headless bpy)."""
    import addon_utils

    module = _ADDONS[kind]
    if not addon_utils.check(module)[1]:
        addon_utils.enable(module, default_set=True)


def find_armature(scene: bpy.types.Scene | None = None) -> bpy.types.Object | None:
    """The most recently baked SkelSplat armature in ``scene``, if any."""
    scene = scene or bpy.context.scene
    found = [o for o in scene.objects if o.type == "ARMATURE" and o.get(ROLE) == "armature"]
    return found[-1] if found else None


def _target(path: str | Path, suffix: str, overwrite: bool) -> Path:
    path = Path(bpy.path.abspath(str(path))).expanduser()
    if path.suffix.lower() != suffix:
        raise ExportError(f"{path}: expected a {suffix} file name")
    if path.exists() and not overwrite:
        raise ExportError(f"{path} exists; enable 'Overwrite' (overwrite=True) to replace it")
    if not path.parent.is_dir():
        path.parent.mkdir(parents=True, exist_ok=True)
    return path


def _frame_range(armature: bpy.types.Object, frame_range) -> tuple[int, int]:
    if frame_range is not None:
        return int(frame_range[0]), int(frame_range[1])
    action = armature.animation_data.action if armature.animation_data else None
    if action is None:
        raise ExportError(f"armature {armature.name!r} has no animation to export; bake first")
    first, last = action.frame_range
    return round(first), round(last)


@contextmanager
def _only_selected(armature: bpy.types.Object, frame_range: tuple[int, int]):
    """Select just ``armature`` and set the frame range; restore both afterwards."""
    scene = bpy.context.scene
    view_layer = bpy.context.view_layer
    selected = [o for o in view_layer.objects if o.select_get()]
    active = view_layer.objects.active
    old_range, old_frame = (scene.frame_start, scene.frame_end), scene.frame_current
    try:
        for o in selected:
            o.select_set(False)
        armature.select_set(True)
        view_layer.objects.active = armature
        scene.frame_start, scene.frame_end = frame_range
        yield
    finally:
        armature.select_set(False)
        for o in selected:
            if o.name in view_layer.objects:
                o.select_set(True)
        view_layer.objects.active = active
        scene.frame_start, scene.frame_end = old_range
        scene.frame_set(old_frame)


def _pick(armature: bpy.types.Object | None) -> bpy.types.Object:
    armature = armature or find_armature()
    if armature is None or armature.type != "ARMATURE":
        raise ExportError("no SkelSplat armature to export; bake a fit first")
    return armature


def export_fbx(path: str | Path, *, armature: bpy.types.Object | None = None,
               frame_range: tuple[int, int] | None = None, add_leaf_bones: bool = False,
               overwrite: bool = False) -> Path:
    """Write ``armature`` and its baked animation to an FBX file."""
    armature = _pick(armature)
    target = _target(path, ".fbx", overwrite)
    frames = _frame_range(armature, frame_range)
    ensure_exporter("fbx")
    with _only_selected(armature, frames):
        result = bpy.ops.export_scene.fbx(
            filepath=str(target), check_existing=False, use_selection=True,
            object_types={"ARMATURE"}, add_leaf_bones=add_leaf_bones,
            use_armature_deform_only=False,
            bake_anim=True, bake_anim_use_all_bones=True, bake_anim_use_nla_strips=False,
            bake_anim_use_all_actions=False, bake_anim_force_startend_keying=True,
            bake_anim_step=1.0, bake_anim_simplify_factor=0.0, global_scale=1.0,
            apply_unit_scale=True, apply_scale_options="FBX_SCALE_NONE", axis_forward="-Z",
            axis_up="Y", primary_bone_axis="Y", secondary_bone_axis="X")
    if "FINISHED" not in result or not target.exists():
        raise ExportError(f"{target}: Blender's FBX exporter failed")
    return target


def export_bvh(path: str | Path, *, armature: bpy.types.Object | None = None,
               frame_range: tuple[int, int] | None = None, overwrite: bool = False) -> Path:
    """Write ``armature``'s baked animation to a BVH file (every joint with position channels,
    so bone heads are exact; Blender's axes, metres)."""
    armature = _pick(armature)
    target = _target(path, ".bvh", overwrite)
    first, last = _frame_range(armature, frame_range)
    ensure_exporter("bvh")
    with _only_selected(armature, (first, last)):
        result = bpy.ops.export_anim.bvh(
            filepath=str(target), check_existing=False, frame_start=first, frame_end=last,
            global_scale=1.0, rotate_mode="NATIVE", root_transform_only=False)
    if "FINISHED" not in result or not target.exists():
        raise ExportError(f"{target}: Blender's BVH exporter failed")
    return target
