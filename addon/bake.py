"""Baking a fitted motion: rigid canonical armature, Gaussian ellipsoids, raw joint empties.

The maths (take skeleton, rest pose, rotations, floor, contacts, foot locking, keys,
ellipsoid transforms) is in ``core/animation.py`` and ``core/armature.py``; this module only
creates Blender data and keys it in bulk. Only the root bone has location keys; every other
bone is keyed by rotation alone. Foot contacts are keyed as the armature's
``left_foot_contact`` / ``right_foot_contact`` custom properties (0/1, constant
interpolation). With the floor aligned (default), the take's cameras, ellipsoids and raw
empties move with it, so the scene stays consistent. Every call makes NEW actions
(``"<take>|<run>"``); the take's armature is reused only when its rest pose is the new
skeleton's (keys are solved against its actual rest pose), so earlier actions stay valid and
are kept (fake user). The scene's frame rate is set from the motion's.
"""

from __future__ import annotations

import colorsys
import time
from dataclasses import dataclass, field

import bpy
import numpy as np
from mathutils import Matrix

from ..core import metrics
from ..core.animation import Animation, AnimationOptions, animate
from ..core.armature import (
    basis_from_pose,
    ellipsoid_transforms,
    fill_gaps,
    pose_matrices,
)
from ..core.errors import SkelsplatError
from ..core.floor import transform_points
from ..core.motion import Motion3D
from .actions import new_action
from .capture import ROLE, TAKE, mark, new_collection

SPHERE_MESH = "SkelSplat unit sphere"
JOINT_MATERIAL = "SkelSplat joint colour"
ERROR_PROP = "reprojection_error_px"
CONTACT_PROP = "{side}_foot_contact"
ALIGNMENT_PROP = "skelsplat_alignment"
_CONSTANT = 0  # FCurve keyframe interpolation enum value of 'CONSTANT'


@dataclass
class BakeResult:
    """What :func:`bake_motion` created or keyed.

    Attributes:
        armature: the armature object (bone per canonical joint present in the motion).
        action: the new armature action.
        run_name: the run part of the action names.
        ellipsoids: joint -> ellipsoid object (empty when there are no covariances).
        empties: joint -> raw joint empty (when asked for).
        collection: the take's result collection.
        frame_range: (first, last) scene frames keyed.
        joint_errors: joint -> (mean, max) reprojection error in px (NaN when unknown).
        warnings: what was left out.
        animation: the rigid animation that was keyed (metrics, contacts, floor).
        timings_s: seconds per step (``solve``: the animation, ``keys``: its Blender key
            values, ``keying``: writing the armature's keys).
    """

    armature: bpy.types.Object
    action: bpy.types.Action
    run_name: str
    ellipsoids: dict[str, bpy.types.Object] = field(default_factory=dict)
    empties: dict[str, bpy.types.Object] = field(default_factory=dict)
    collection: bpy.types.Collection | None = None
    frame_range: tuple[int, int] = (1, 1)
    joint_errors: dict[str, tuple[float, float]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    animation: Animation | None = None
    timings_s: dict[str, float] = field(default_factory=dict)


def joint_colors(n: int) -> np.ndarray:
    """[n, 4] distinct RGBA colours (evenly spaced hues)."""
    return np.array([(*colorsys.hsv_to_rgb(i / max(n, 1), 0.75, 0.95), 1.0) for i in range(n)])


def _owned(role: str, take_name: str, kind: str) -> list[bpy.types.Object]:
    return [o for o in bpy.data.objects
            if o.get(ROLE) == role and o.get(TAKE) == take_name and o.type == kind]


def _next_run_name(take_name: str) -> str:
    used = {a.name for a in bpy.data.actions}
    n = 1
    while f"{take_name}|run{n}" in used:
        n += 1
    return f"run{n}"


def _ensure_collection(scene: bpy.types.Scene, take_name: str, suffix: str,
                       parent: bpy.types.Collection | None = None) -> bpy.types.Collection:
    name = f"{take_name} {suffix}"
    for coll in bpy.data.collections:
        if coll.get(ROLE) == "collection" and coll.get(TAKE) == take_name and coll.name == name:
            return coll
    return new_collection(scene, name, take_name, parent)


def _set_active(obj: bpy.types.Object) -> None:
    view_layer = bpy.context.view_layer
    for other in view_layer.objects:
        other.select_set(False)
    view_layer.objects.active = obj
    obj.select_set(True)


def build_armature(plan, take_name: str, collection: bpy.types.Collection) -> bpy.types.Object:
    """Create the rest armature of ``plan`` (a :class:`~skelsplat.core.armature.RigPlan`):
    roll 0 on every bone (Blender's convention), bones connected where a head is its
    parent's tail."""
    data = bpy.data.armatures.new(f"{take_name} skeleton")
    data.display_type = "STICK"
    obj = bpy.data.objects.new(f"{take_name} skeleton", data)
    collection.objects.link(obj)
    mark(obj, "armature", take_name)
    obj.show_in_front = True
    view_layer = bpy.context.view_layer
    selected = [o for o in view_layer.objects if o.select_get()]
    active = view_layer.objects.active
    _set_active(obj)
    bpy.ops.object.mode_set(mode="EDIT")
    try:
        bones = []
        for b, name in enumerate(plan.bone_names):
            eb = data.edit_bones.new(name)
            eb.head = plan.heads[b].tolist()
            eb.tail = plan.tails[b].tolist()
            eb.roll = 0.0
            p = plan.parents[b]
            if p >= 0:
                eb.parent = bones[p]
                eb.use_connect = bool(np.linalg.norm(plan.tails[p] - plan.heads[b]) < 1e-7)
            bones.append(eb)
    finally:
        bpy.ops.object.mode_set(mode="OBJECT")
        obj.select_set(False)  # give the user's selection back
        for other in selected:
            other.select_set(True)
        view_layer.objects.active = active
    for pb in obj.pose.bones:
        pb.rotation_mode = "QUATERNION"
    return obj


def _rest_matrices(armature: bpy.types.Object, names: list[str]) -> np.ndarray:
    return np.array([np.array(armature.data.bones[n].matrix_local) for n in names])


def _bone_parents(armature: bpy.types.Object, names: list[str]) -> np.ndarray:
    bones = armature.data.bones
    return np.array([-1 if bones[n].parent is None else names.index(bones[n].parent.name)
                     for n in names])


def _find_armature(take_name: str, plan) -> bpy.types.Object | None:
    """The take's armature with the same bones and rest pose as ``plan``, if any."""
    names = plan.bone_names
    for obj in _owned("armature", take_name, "ARMATURE"):
        if sorted(b.name for b in obj.data.bones) != sorted(names):
            continue
        heads = np.array([np.array(obj.data.bones[n].head_local) for n in names])
        tails = np.array([np.array(obj.data.bones[n].tail_local) for n in names])
        if np.abs(heads - plan.heads).max() < 1e-5 and np.abs(tails - plan.tails).max() < 1e-5:
            return obj
    return None


def set_scene_fps(scene: bpy.types.Scene, fps: float | None, warnings: list[str]) -> None:
    """Give the scene the motion's frame rate (fps / fps_base for fractional rates)."""
    if not fps or not fps > 0:
        warnings.append(f"the motion has no frame rate; the scene keeps "
                        f"{scene.render.fps / scene.render.fps_base:g} fps")
        return
    scene.render.fps = max(1, round(fps))
    scene.render.fps_base = scene.render.fps / fps


def _align_cameras(take_name: str, alignment: np.ndarray) -> None:
    """Move the take's cameras by ``alignment`` (relative to the alignment they already
    carry, so re-baking never compounds it)."""
    for obj in bpy.data.objects:
        if obj.get(ROLE) != "camera" or obj.get(TAKE) != take_name:
            continue
        old = np.array(obj.get(ALIGNMENT_PROP, np.eye(4).ravel().tolist()),
                       dtype=float).reshape(4, 4)
        delta = alignment @ np.linalg.inv(old)
        if np.abs(delta - np.eye(4)).max() < 1e-12:
            continue
        obj.matrix_world = Matrix((delta @ np.array(obj.matrix_world)).tolist())
        obj[ALIGNMENT_PROP] = alignment.ravel().tolist()


def _key_contacts(channels, armature: bpy.types.Object, frames: np.ndarray,
                  animation: Animation) -> None:
    """Key each foot's contact (0/1) as a custom property with constant interpolation."""
    for side, fc in animation.contacts.items():
        prop = CONTACT_PROP.format(side=side)
        armature[prop] = int(fc.contact[0])
        ui = armature.id_properties_ui(prop)
        ui.update(min=0, max=1, description=f"1 while the {side} foot is planted "
                  "(SkelSplat contact detection; edit freely)")
        for curve in channels.add_vector(f'["{prop}"]', frames,
                                         fc.contact.astype(float)[:, None], group="contacts"):
            n = len(curve.keyframe_points)
            curve.keyframe_points.foreach_set("interpolation", [_CONSTANT] * n)
            curve.update()


def unit_sphere_mesh() -> bpy.types.Mesh:
    """The one UV-sphere mesh (radius 1) every ellipsoid instances."""
    mesh = bpy.data.meshes.get(SPHERE_MESH)
    if mesh is not None and mesh.get(ROLE) == "sphere":
        return mesh
    import bmesh

    mesh = bpy.data.meshes.new(SPHERE_MESH)
    bm = bmesh.new()
    bmesh.ops.create_uvsphere(bm, u_segments=24, v_segments=12, radius=1.0)
    bm.to_mesh(mesh)
    bm.free()
    mesh.shade_smooth()
    mesh[ROLE] = "sphere"
    mesh.materials.append(joint_material())
    return mesh


def joint_material() -> bpy.types.Material:
    """A material whose colour is the object colour (so one mesh serves every joint)."""
    mat = bpy.data.materials.get(JOINT_MATERIAL)
    if mat is not None and mat.get(ROLE) == "material":
        return mat
    mat = bpy.data.materials.new(JOINT_MATERIAL)
    mat[ROLE] = "material"
    mat.use_nodes = True
    nodes, links = mat.node_tree.nodes, mat.node_tree.links
    bsdf = next(n for n in nodes if n.type == "BSDF_PRINCIPLED")
    info = nodes.new("ShaderNodeObjectInfo")
    links.new(info.outputs["Color"], bsdf.inputs["Base Color"])
    bsdf.inputs["Alpha"].default_value = 0.6
    return mat


def _joint_objects(role: str, take_name: str, names: list[str], collection, make) -> dict:
    existing = {o.get("skelsplat_joint"): o for o in bpy.data.objects
                if o.get(ROLE) == role and o.get(TAKE) == take_name}
    out = {}
    for j, name in enumerate(names):
        obj = existing.get(name)
        if obj is None:
            obj = make(name, j)
            collection.objects.link(obj)
            mark(obj, role, take_name)
            obj["skelsplat_joint"] = name
        out[name] = obj
    return out


def joint_error_stats(motion: Motion3D, names: list[str]) -> tuple[dict, np.ndarray | None]:
    """Per-joint (mean, max) reprojection error (px) and [F, J] per-frame view means."""
    err = motion.reprojection_error_px
    if err is None:
        return {n: (float("nan"), float("nan")) for n in names}, None
    idx = [motion.index(n) for n in names]
    mean, peak, per_frame = metrics.joint_error_stats(np.asarray(err, dtype=float)[:, :, idx])
    stats = {n: (float(mean[k]), float(peak[k])) for k, n in enumerate(names)}
    return stats, per_frame


def bake_motion(motion: Motion3D, *, take_name: str = "take", run_name: str | None = None,
                scene: bpy.types.Scene | None = None, frame_start: int = 1,
                ellipsoids: bool = True, sigma: float = 2.0,
                raw_empties: bool = False, rest_pose: str = "T", floor: str = "align",
                lock_feet: bool = True, animation: Animation | None = None) -> BakeResult:
    """Bake ``motion`` (canonical joint names) into the scene; see ``addon/pipeline.py``.

    ``rest_pose``, ``floor`` and ``lock_feet`` are :class:`AnimationOptions`; pass an
    already computed ``animation`` of ``motion`` to skip solving it again.
    """
    scene = scene or bpy.context.scene
    if motion.n_frames == 0:
        raise SkelsplatError("cannot bake: the motion has no frames")
    if sigma <= 0:
        raise SkelsplatError(f"ellipsoid sigma must be positive, got {sigma}")
    run_name = run_name or _next_run_name(take_name)
    action_name = f"{take_name}|{run_name}"
    start = time.perf_counter()
    anim = animation or animate(motion, AnimationOptions(rest_pose=rest_pose, floor=floor,
                                                         lock_feet=lock_feet))
    timings = {"solve": time.perf_counter() - start}
    plan = anim.plan
    names = plan.joint_names
    idx = [motion.index(n) for n in names]
    A = anim.alignment  # calibration world -> the animation's world
    joints = transform_points(A, fill_gaps(motion.joints3d, motion.valid))  # [F, J_in, 3]
    warnings = [f"joint {n!r} is left out of the armature (no valid frame, or never seen "
                f"together with its parent)"
                for n in motion.joint_names if n not in names]
    warnings += [f"undetermined rotation: {u}" for u in anim.undetermined]
    warnings += anim.warnings
    set_scene_fps(scene, motion.fps, warnings)
    frames = frame_start + motion.frame_numbers.astype(float)  # [F]
    if bpy.context.object is not None and bpy.context.object.mode != "OBJECT":
        bpy.ops.object.mode_set(mode="OBJECT")

    root = _ensure_collection(scene, take_name, "result")
    armature = _find_armature(take_name, plan) or build_armature(plan, take_name, root)
    bones = plan.bone_names
    rest = _rest_matrices(armature, bones)
    parents = _bone_parents(armature, bones)
    start = time.perf_counter()
    pose = pose_matrices(plan, anim.pose)  # [F, B, 4, 4]
    locations, quats = basis_from_pose(rest, parents, pose)
    timings["keys"] = time.perf_counter() - start
    start = time.perf_counter()
    channels = new_action(armature, action_name)
    for b, name in enumerate(bones):
        path = f'pose.bones["{name}"]'
        if parents[b] < 0:  # only the root moves; every other bone only turns
            channels.add_vector(f"{path}.location", frames, locations[:, b], group=name)
        channels.add_vector(f"{path}.rotation_quaternion", frames, quats[:, b], group=name)
    _key_contacts(channels, armature, frames, anim)
    timings["keying"] = time.perf_counter() - start
    channels.action.use_fake_user = True
    armature["skelsplat_run"] = run_name
    armature["skelsplat_rest_pose"] = plan.rest_pose
    armature[ALIGNMENT_PROP] = A.ravel().tolist()  # calibration world -> this armature's
    armature["skelsplat_undetermined"] = "; ".join(anim.undetermined) or "none"
    _align_cameras(take_name, A)
    stats, per_frame = joint_error_stats(motion, names)
    for name, (mean, peak) in stats.items():
        armature.pose.bones[name][ERROR_PROP] = mean
        armature.pose.bones[name]["reprojection_error_max_px"] = peak
        res = anim.metrics.residual_per_joint_mm.get(name, (float("nan"),) * 2)
        armature.pose.bones[name]["residual_to_fit_mm"] = res[0]
    result = BakeResult(armature, channels.action, run_name, collection=root,
                        frame_range=(int(frames[0]), int(frames[-1])), joint_errors=stats,
                        warnings=warnings, animation=anim, timings_s=timings)

    if ellipsoids and motion.covariances is None:
        result.warnings.append("the motion has no covariances: no ellipsoids")
    elif ellipsoids:
        R = A[:3, :3]
        cov = R @ fill_gaps(motion.covariances, motion.valid)[:, idx] @ R.T
        rotations, scales = ellipsoid_transforms(cov, sigma)
        coll = _ensure_collection(scene, take_name, "gaussians", root)
        mesh = unit_sphere_mesh()
        colors = joint_colors(len(names))

        def make_ellipsoid(name: str, j: int) -> bpy.types.Object:
            obj = bpy.data.objects.new(f"{take_name} {name} gaussian", mesh)
            obj.color = colors[j].tolist()
            obj.rotation_mode = "QUATERNION"
            obj.show_transparent = True
            return obj

        result.ellipsoids = _joint_objects("ellipsoid", take_name, names, coll, make_ellipsoid)
        for j, (name, obj) in enumerate(result.ellipsoids.items()):
            ch = new_action(obj, f"{action_name}|{name}")
            ch.add_vector("location", frames, joints[:, idx[j]])
            ch.add_vector("rotation_quaternion", frames, rotations[:, j])
            ch.add_vector("scale", frames, scales[:, j])
            obj["skelsplat_sigma"] = float(sigma)
            obj[ERROR_PROP] = stats[name][0]
            if per_frame is not None:
                ch.add_vector(f'["{ERROR_PROP}"]', frames,
                              np.nan_to_num(per_frame[:, j], nan=-1.0))
            ch.action.use_fake_user = True

    if raw_empties:
        raw = motion.raw_joints3d if motion.raw_joints3d is not None else motion.joints3d
        raw = transform_points(A, fill_gaps(raw, motion.valid)[:, idx])
        coll = _ensure_collection(scene, take_name, "raw joints", root)

        def make_empty(name: str, j: int) -> bpy.types.Object:
            obj = bpy.data.objects.new(f"{take_name} {name} raw", None)
            obj.empty_display_type = "SPHERE"
            obj.empty_display_size = 0.02
            return obj

        result.empties = _joint_objects("raw_joint", take_name, names, coll, make_empty)
        for j, obj in enumerate(result.empties.values()):
            ch = new_action(obj, f"{action_name}|{names[j]} raw")
            ch.add_vector("location", frames, raw[:, j])
            ch.action.use_fake_user = True

    scene.frame_start, scene.frame_end = result.frame_range
    return result
