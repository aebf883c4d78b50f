"""FBX / glTF / BVH export of a baked or retargeted armature, with engine presets.

Presets (:data:`FBX_PRESETS`): ``unity`` (-Z forward, Y up, scale 1) and
``unreal`` (X forward, Z up, scale 1); both: no leaf bones unless asked, deform bones only
(when the armature has any), animation baked at the take's frame rate over the frame range
(trimmed by ``frame_range``). glTF/GLB (three.js, web viewers) is Y up. BVH has rotations
on every joint and a translation on the root only, Y up by default (what Blender's and most
tools' importers assume). ``include_mesh`` adds the meshes skinned to the armature.

Every file is written next to its target under a temporary name and renamed over it at the
end (a failed export never leaves half a file); an existing file is never replaced unless
``overwrite`` is True; a relative (``//``) path in an unsaved .blend is refused (pick a
folder) instead of landing in the working directory.
"""

from __future__ import annotations

import os
from contextlib import contextmanager, suppress
from pathlib import Path

import bpy

from ..core.errors import ExportError
from .capture import ROLE

_ADDONS = {"fbx": "io_scene_fbx", "bvh": "io_anim_bvh", "gltf": "io_scene_gltf2"}

#: FBX engine presets: exporter axis and scale settings.
FBX_PRESETS: dict[str, dict] = {
    "unity": {"axis_forward": "-Z", "axis_up": "Y", "apply_scale_options": "FBX_SCALE_NONE"},
    "unreal": {"axis_forward": "X", "axis_up": "Z", "apply_scale_options": "FBX_SCALE_NONE"},
}
EXPORT_FORMATS = ("FBX", "GLB", "GLTF", "BVH")


def ensure_exporter(kind: str) -> None:
    """Enable Blender's bundled FBX/BVH add-on when it is not loaded (headless bpy)."""
    import addon_utils

    module = _ADDONS[kind]
    if not addon_utils.check(module)[1]:
        addon_utils.enable(module, default_set=True)


def is_skelsplat_armature(obj: bpy.types.Object | None) -> bool:
    """True for armatures SkelSplat baked (its own skeleton)."""
    return obj is not None and obj.type == "ARMATURE" and obj.get(ROLE) == "armature"


def find_armature(scene: bpy.types.Scene | None = None) -> bpy.types.Object | None:
    """The most recently baked SkelSplat armature in ``scene``, if any."""
    scene = scene or bpy.context.scene
    found = [o for o in scene.objects if is_skelsplat_armature(o)]
    return found[-1] if found else None


def _target(path: str | Path, suffix: str | tuple[str, ...], overwrite: bool) -> Path:
    if str(path).startswith("//") and not bpy.data.filepath:
        raise ExportError(f"{path}: the .blend is not saved, so a '//' (relative) path has no "
                          "folder; pick an export folder or save the .blend first")
    path = Path(bpy.path.abspath(str(path))).expanduser()
    suffixes = (suffix,) if isinstance(suffix, str) else suffix
    if path.suffix.lower() not in suffixes:
        raise ExportError(f"{path}: expected a {' or '.join(suffixes)} file name")
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
def _only_selected(armature: bpy.types.Object, frame_range: tuple[int, int],
                   extra: list[bpy.types.Object] | None = None):
    """Select just ``armature`` (and ``extra``), set the frame range; restore afterwards."""
    scene = bpy.context.scene
    view_layer = bpy.context.view_layer
    selected = [o for o in view_layer.objects if o.select_get()]
    active = view_layer.objects.active
    old_range, old_frame = (scene.frame_start, scene.frame_end), scene.frame_current
    try:
        for o in selected:
            o.select_set(False)
        armature.select_set(True)
        for o in extra or ():
            o.select_set(True)
        view_layer.objects.active = armature
        scene.frame_start, scene.frame_end = frame_range
        yield
    finally:
        armature.select_set(False)
        for o in extra or ():
            o.select_set(False)
        for o in selected:
            if o.name in view_layer.objects:
                o.select_set(True)
        view_layer.objects.active = active
        scene.frame_start, scene.frame_end = old_range
        scene.frame_set(old_frame)


@contextmanager
def _atomic(target: Path):
    """Yield a temporary path next to ``target``; rename it over ``target`` on success."""
    tmp = target.with_name(f".{target.stem}.partial{target.suffix}")
    try:
        yield tmp
        if not tmp.exists():
            raise ExportError(f"{target}: Blender's exporter wrote nothing")
        os.replace(tmp, target)
    except OSError as exc:
        raise ExportError(f"cannot write {target}: {exc.strerror or exc}") from None
    finally:
        with suppress(OSError):
            tmp.unlink()


def _meshes(armature: bpy.types.Object) -> list[bpy.types.Object]:
    """Mesh objects deformed by ``armature`` (modifier or parent)."""
    return [o for o in bpy.data.objects if o.type == "MESH" and (
        o.parent == armature or any(m.type == "ARMATURE" and m.object == armature
                                    for m in o.modifiers))]


@contextmanager
def _scene_fps(fps: float | None):
    """Temporarily set the scene frame rate (the exporters bake at the scene's rate)."""
    scene = bpy.context.scene
    old = scene.render.fps, scene.render.fps_base
    try:
        if fps:
            scene.render.fps, scene.render.fps_base = max(1, round(fps)), round(fps) / fps
        yield
    finally:
        scene.render.fps, scene.render.fps_base = old


def _pick(armature: bpy.types.Object | None) -> bpy.types.Object:
    armature = armature or find_armature()
    if armature is None or armature.type != "ARMATURE":
        raise ExportError("no SkelSplat armature to export; bake a fit first")
    return armature


def export_fbx(path: str | Path, *, armature: bpy.types.Object | None = None,
               frame_range: tuple[int, int] | None = None, add_leaf_bones: bool = False,
               overwrite: bool = False, preset: str = "unity", include_mesh: bool = False,
               fps: float | None = None) -> Path:
    """Write ``armature`` and its baked animation to an FBX file (engine ``preset``)."""
    armature = _pick(armature)
    if preset not in FBX_PRESETS:
        raise ExportError(f"unknown FBX preset {preset!r}; expected one of {list(FBX_PRESETS)}")
    target = _target(path, ".fbx", overwrite)
    frames = _frame_range(armature, frame_range)
    ensure_exporter("fbx")
    deform_only = any(b.use_deform for b in armature.data.bones)
    extra = _meshes(armature) if include_mesh else []
    with _only_selected(armature, frames, extra), _scene_fps(fps), _atomic(target) as tmp:
        result = bpy.ops.export_scene.fbx(
            filepath=str(tmp), check_existing=False, use_selection=True,
            object_types={"ARMATURE", "MESH"} if extra else {"ARMATURE"},
            add_leaf_bones=add_leaf_bones, use_armature_deform_only=deform_only,
            bake_anim=True, bake_anim_use_all_bones=True, bake_anim_use_nla_strips=False,
            bake_anim_use_all_actions=False, bake_anim_force_startend_keying=True,
            bake_anim_step=1.0, bake_anim_simplify_factor=0.0, global_scale=1.0,
            apply_unit_scale=True, primary_bone_axis="Y", secondary_bone_axis="X",
            **FBX_PRESETS[preset])
        if "FINISHED" not in result:
            raise ExportError(f"{target}: Blender's FBX exporter failed")
    return target


def export_gltf(path: str | Path, *, armature: bpy.types.Object | None = None,
                frame_range: tuple[int, int] | None = None, overwrite: bool = False,
                include_mesh: bool = False, fps: float | None = None) -> Path:
    """Write a .glb (binary) or .gltf file: armature, its action, Y up (three.js)."""
    armature = _pick(armature)
    target = _target(path, (".glb", ".gltf"), overwrite)
    frames = _frame_range(armature, frame_range)
    ensure_exporter("gltf")
    extra = _meshes(armature) if include_mesh else []
    fmt = "GLB" if target.suffix.lower() == ".glb" else "GLTF_EMBEDDED"
    with _only_selected(armature, frames, extra), _scene_fps(fps), _atomic(target) as tmp:
        result = bpy.ops.export_scene.gltf(
            filepath=str(tmp), check_existing=False, export_format=fmt, use_selection=True,
            export_yup=True, export_animations=True, export_frame_range=True,
            export_force_sampling=True, export_def_bones=False, export_apply=False)
        if "FINISHED" not in result:
            raise ExportError(f"{target}: Blender's glTF exporter failed")
    return target


def export_bvh(path: str | Path, *, armature: bpy.types.Object | None = None,
               frame_range: tuple[int, int] | None = None, overwrite: bool = False,
               y_up: bool = True) -> Path:
    """Write ``armature``'s baked animation to a BVH file: rotations on every joint, a
    translation on the root only, metres; Y up (+Z forward) by default, which Blender's and
    most tools' BVH importers assume; ``y_up=False`` keeps Blender's Z up."""
    from ..core.retarget.bvh_axes import rotate_bvh_axes

    armature = _pick(armature)
    target = _target(path, ".bvh", overwrite)
    first, last = _frame_range(armature, frame_range)
    ensure_exporter("bvh")
    with _only_selected(armature, (first, last)), _atomic(target) as tmp:
        result = bpy.ops.export_anim.bvh(
            filepath=str(tmp), check_existing=False, frame_start=first, frame_end=last,
            global_scale=1.0, rotate_mode="NATIVE", root_transform_only=True)
        if "FINISHED" not in result:
            raise ExportError(f"{target}: Blender's BVH exporter failed")
        if y_up:
            tmp.write_text(rotate_bvh_axes(tmp.read_text()))
    return target
