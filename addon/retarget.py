"""Retargeting onto the user's character: a NEW action on the target armature per call.

The maths is in ``core/retarget``; this module reads the target's rest pose, keys the result
in bulk, and keeps the user's data safe: the target's rest pose and objects are never
edited, its earlier actions are kept (the one it was playing gets a fake user so switching
away never loses it), and every call makes another action
``"<take>|<target>|retarget<n>"``. Rigs whose controls are moved by constraints (Rigify's
generated rig) are solved against Blender's own evaluation, frame by frame.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import bpy
import numpy as np
from mathutils import Matrix, Quaternion

from ..core.armature import fill_gaps
from ..core.errors import SkelsplatError
from ..core.motion import Motion3D
from ..core.progress import ProgressFn, or_silent
from ..core.retarget.bone_map import BoneMap, detect_preset, guess_bone_map, preset
from ..core.retarget.solve import (
    RetargetOptions,
    RetargetResult,
    TargetRig,
    retarget,
    shin_aiming,
    thigh_reaching,
)
from .actions import new_action

#: Custom properties stamped on every action we make (the takes list reads them).
KIND_PROP, TAKE_PROP, TARGET_PROP = "skelsplat_kind", "skelsplat_take", "skelsplat_target"


@dataclass
class RetargetOutcome:
    """What :func:`retarget_motion` made.

    Attributes:
        action: the new action on the target.
        bone_map: the map used (after ``auto`` guessing).
        result: the numbers (:class:`~skelsplat.core.retarget.solve.RetargetResult`).
        frame_range: (first, last) scene frames keyed.
        warnings: what could not be driven.
    """

    action: bpy.types.Action
    bone_map: BoneMap
    result: RetargetResult
    frame_range: tuple[int, int]
    warnings: list[str] = field(default_factory=list)


def ordered_bones(armature: bpy.types.Object) -> list[bpy.types.Bone]:
    """The armature's bones, parents before children (depth first)."""
    out: list[bpy.types.Bone] = []

    def walk(bone: bpy.types.Bone) -> None:
        out.append(bone)
        for child in bone.children:
            walk(child)

    for bone in armature.data.bones:
        if bone.parent is None:
            walk(bone)
    return out


def target_rig(armature: bpy.types.Object) -> TargetRig:
    """Rest pose of ``armature`` for the retarget maths (read only)."""
    if armature is None or armature.type != "ARMATURE":
        raise SkelsplatError("retarget: pick an armature object as the target")
    bones = ordered_bones(armature)
    if not bones:
        raise SkelsplatError(f"retarget: armature {armature.name!r} has no bones")
    names = [b.name for b in bones]
    index = {n: i for i, n in enumerate(names)}
    parents = np.array([-1 if b.parent is None else index[b.parent.name] for b in bones])
    rest = np.array([np.array(b.matrix_local) for b in bones])
    tails = np.array([np.array(b.tail_local) for b in bones])
    return TargetRig(names, parents, rest, tails, np.array(armature.matrix_world))


def resolve_bone_map(armature: bpy.types.Object, bone_map: BoneMap | str | None) -> BoneMap:
    """A map for ``armature``: a BoneMap as is, a preset name, a ``.json`` path, or
    ``auto``/None (a preset whose bones all exist, else a guess from names and rest pose)."""
    if isinstance(bone_map, BoneMap):
        return bone_map
    names = [b.name for b in armature.data.bones]
    if bone_map and str(bone_map).lower().endswith(".json"):
        return BoneMap.load(bpy.path.abspath(str(bone_map)))
    if bone_map and bone_map != "auto":
        found = preset(bone_map)
        if bone_map == "skelsplat":  # our armature leaves out bones the take did not have
            found.bones = {r: b for r, b in found.bones.items() if b in names}
        return found
    name = detect_preset(names)
    if name is not None:
        return preset(name)
    rig = target_rig(armature)
    return guess_bone_map(rig.bone_names, list(rig.parents), rig.rest[:, :3, 3])


def _next_action_name(take_name: str, target: str) -> str:
    used = {a.name for a in bpy.data.actions}
    n = 1
    while f"{take_name}|{target}|retarget{n}" in used:
        n += 1
    return f"{take_name}|{target}|retarget{n}"


def _has_constraints(armature: bpy.types.Object) -> bool:
    return any(len(pb.constraints) for pb in armature.pose.bones)


def _legs(result: RetargetResult, bone_map: BoneMap) -> list[tuple[int, int, int, int | None]]:
    """Per side, indices into ``result.bone_names`` of thigh, shin, foot and toe (or None)."""
    at = {b: k for k, b in enumerate(result.bone_names)}
    out = []
    for s in (".L", ".R"):
        k = [at.get(bone_map.bones.get(f"{r}{s}", "")) for r in ("thigh", "shin", "foot", "toe")]
        if None not in k[:3]:
            out.append((k[0], k[1], k[2], k[3]))
    return out


def _evaluated_basis(armature: bpy.types.Object, result: RetargetResult,
                     switches: dict[str, dict[str, float]],
                     legs: list[tuple[int, int, int, int | None]] = (),
                     report: ProgressFn | None = None
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Basis keys that reach ``result.pose`` through Blender's own evaluation (constraints
    included). Per frame, bones are turned level by level from the root down, each at the
    head where the rig puts it (only the carrier's location is keyed); then the carrier
    shifts so the evaluated mid-thighs land where wanted, and each leg is corrected on the
    rig as it evaluates: the thigh, from its evaluated head, reaches the
    wanted ankle by two-bone IK, the shin aims at it, the foot and toe take their wanted
    rotations (a rig whose thighs hang from constraint-driven helper bones, like Rigify's,
    puts the hips centimetres from where the numbers expect them). ``report(fraction of
    the frames, message)`` about every 1 % of the frames (Rigify's rig: ~60 ms a frame)."""
    report = or_silent(report)
    pbs = [armature.pose.bones[n] for n in result.bone_names]
    keyed = set(result.bone_names)
    carrier = result.bone_names.index(result.carrier)

    def level(pb: bpy.types.PoseBone) -> int:
        n, p = 0, pb.parent
        while p is not None:
            n += p.name in keyed
            p = p.parent
        return n

    levels: dict[int, list[int]] = {}
    for k, pb in enumerate(pbs):
        levels.setdefault(level(pb), []).append(k)
    saved = {(b, p): armature.pose.bones[b][p] for b, props in switches.items()
             for p in props if b in armature.pose.bones and p in armature.pose.bones[b]}
    saved_basis = [pb.matrix_basis.copy() for pb in pbs]
    for (b, p) in saved:
        armature.pose.bones[b][p] = switches[b][p]
    F, K = result.pose.shape[:2]
    loc, quat = np.zeros((F, K, 3)), np.zeros((F, K, 4))
    view_layer = bpy.context.view_layer

    def place(k: int, M: np.ndarray) -> None:
        M = np.array(M, dtype=float)
        if k != carrier:  # unkeyed locations stay: the head is where the rig puts it
            M[:3, 3] = np.array(pbs[k].head)
        pbs[k].matrix = Matrix(M.tolist())

    every = max(1, F // 100)
    try:
        for f in range(F):
            if f % every == 0:
                report(f / F, f"solving through the rig's constraints: frame {f + 1} of {F}")
            for k, pb in enumerate(pbs):
                q = result.quaternions[f, k]
                t = result.locations[f, k] if k == carrier else saved_basis[k].to_translation()
                pb.matrix_basis = Matrix.LocRotScale(t, Quaternion(q), None)
            view_layer.update()
            for lv in sorted(levels):
                for k in levels[lv]:
                    place(k, result.pose[f, k])
                view_layer.update()
            W = result.pose[f]
            if legs:  # the carrier moves so the evaluated mid-thighs land where wanted
                thighs = [leg[0] for leg in legs]
                miss = (np.mean([W[k][:3, 3] for k in thighs], axis=0)
                        - np.mean([np.array(pbs[k].head) for k in thighs], axis=0))
                M = np.array(pbs[carrier].matrix)
                M[:3, 3] += miss
                pbs[carrier].matrix = Matrix(M.tolist())
                view_layer.update()
            for step in range(4):  # thighs, shins, feet, toes
                for thigh, shin, foot, toe in legs:
                    if step == 0:
                        place(thigh, thigh_reaching(np.array(pbs[thigh].head), W[thigh],
                                                    W[shin], W[foot]))
                    elif step == 1:
                        place(shin, shin_aiming(np.array(pbs[shin].head), W[shin], W[foot]))
                    elif step == 2:
                        place(foot, W[foot])
                    elif toe is not None:
                        place(toe, W[toe])
                if legs:
                    view_layer.update()
            for k, pb in enumerate(pbs):
                t, r, _ = pb.matrix_basis.decompose()
                loc[f, k], quat[f, k] = tuple(t), tuple(r)
    finally:
        for pb, m in zip(pbs, saved_basis, strict=True):
            pb.matrix_basis = m
        for (b, p), v in saved.items():
            armature.pose.bones[b][p] = v
    for f in range(1, F):  # sign continuity
        flip = np.sum(quat[f] * quat[f - 1], axis=-1) < 0
        quat[f][flip] *= -1
    return loc, quat


def _rotation_keys(pb: bpy.types.PoseBone, quats: np.ndarray) -> tuple[str, np.ndarray]:
    """(data path suffix, [F, C] values) for the bone's rotation mode."""
    mode = pb.rotation_mode
    if mode == "QUATERNION":
        return "rotation_quaternion", quats
    if mode == "AXIS_ANGLE":
        out = []
        for q in quats:
            axis, angle = Quaternion(q).to_axis_angle()
            out.append((angle, *axis))
        return "rotation_axis_angle", np.array(out)
    out, prev = [], None
    for q in quats:
        e = Quaternion(q).to_euler(mode) if prev is None else Quaternion(q).to_euler(mode, prev)
        out.append(tuple(e))
        prev = e
    return "rotation_euler", np.array(out)


def retarget_motion(motion: Motion3D, target: bpy.types.Object, *,
                    bone_map: BoneMap | str | None = "auto", take_name: str = "take",
                    options: RetargetOptions | None = None, frame_start: int = 1,
                    scene: bpy.types.Scene | None = None,
                    progress: ProgressFn | None = None) -> RetargetOutcome:
    """Retarget ``motion`` onto the armature ``target`` as a new action (see module doc).

    Args:
        bone_map: a :class:`BoneMap`, a preset name, a JSON path, or ``auto``.
        options: root motion, scale, foot planting.
        progress: optional :data:`~skelsplat.core.progress.ProgressFn`.
    """
    scene = scene or bpy.context.scene
    if motion.n_frames == 0:
        raise SkelsplatError("cannot retarget: the motion has no frames")
    if target is None or target.type != "ARMATURE":
        raise SkelsplatError("retarget: pick an armature object as the target")
    if bpy.context.object is not None and bpy.context.object.mode != "OBJECT":
        bpy.ops.object.mode_set(mode="OBJECT")
    report = or_silent(progress)
    bmap = resolve_bone_map(target, bone_map)
    rig = target_rig(target)
    bmap.check(rig.bone_names, f"armature {target.name!r}")
    report(0.1, "solving")
    joints = fill_gaps(motion.joints3d, motion.valid)
    fps = motion.fps or scene.render.fps / scene.render.fps_base
    result = retarget(joints, motion.joint_names, rig, bmap, fps, options)
    warnings = [f"role {r!r} has no bone in the map: it follows its parent"
                for r in ("hips", "chest", "neck", "head", "upper_arm.L", "upper_arm.R",
                          "forearm.L", "forearm.R", "thigh.L", "thigh.R", "shin.L", "shin.R")
                if r not in bmap.bones]
    report(0.3, "keying")

    anim = target.animation_data
    previous = anim.action if anim is not None else None
    if previous is not None:
        previous.use_fake_user = True  # the user's action survives being switched away from
    channels = new_action(target, _next_action_name(take_name, target.name))
    action = channels.action
    action[KIND_PROP], action[TAKE_PROP], action[TARGET_PROP] = ("retarget", take_name,
                                                                 target.name)
    action.use_fake_user = True
    if _has_constraints(target):
        locations, quats = _evaluated_basis(
            target, result, bmap.settings, _legs(result, bmap),
            report=lambda fraction, message: report(0.4 + 0.55 * fraction, message))
    else:
        locations, quats = result.locations, result.quaternions
    frames = frame_start + motion.frame_numbers.astype(float)
    for k, name in enumerate(result.bone_names):
        pb = target.pose.bones[name]
        path = f'pose.bones["{name}"]'
        if name == result.carrier:
            channels.add_vector(f"{path}.location", frames, locations[:, k], group=name)
        suffix, values = _rotation_keys(pb, quats[:, k])
        channels.add_vector(f"{path}.{suffix}", frames, values, group=name)
    for bone, props in bmap.settings.items():
        if bone in target.pose.bones:
            for prop, value in props.items():
                if prop in target.pose.bones[bone]:
                    channels.add_vector(f'pose.bones["{bone}"]["{prop}"]', frames,
                                        np.full((len(frames), 1), value), group=bone)
    first, last = int(frames[0]), int(frames[-1])
    scene.frame_start, scene.frame_end = first, last
    report(1.0, "done")
    return RetargetOutcome(action, bmap, result, (first, last), warnings)


# ----------------------------------------------------------------------------- panel glue
def fill_map_rows(scene: bpy.types.Scene) -> BoneMap:
    """Fill the panel's editable map from its preset (``auto``: detect or guess)."""
    from ..core.retarget.bone_map import ROLES

    props = scene.skelsplat_retarget
    if props.target is None:
        raise SkelsplatError("retarget: pick the target armature first")
    bmap = resolve_bone_map(props.target, props.preset)
    props.bone_map.clear()
    for role in ROLES:
        row = props.bone_map.add()
        row.name, row.bone = role, bmap.bones.get(role, "")
    props["map_name"] = bmap.name
    return bmap


def map_from_rows(scene: bpy.types.Scene) -> BoneMap:
    """The panel's edited map (rows with an empty bone are left out)."""
    props = scene.skelsplat_retarget
    name = props.get("map_name", "edited")
    base = preset(name) if name in PRESET_NAMES_ONLY else None
    return BoneMap(name, {r.name: r.bone for r in props.bone_map if r.bone},
                   base.settings if base else {})


def retarget_scene(scene: bpy.types.Scene, motion: Motion3D, take_name: str) -> RetargetOutcome:
    """The Retarget button: current fit -> the panel's target with the panel's map/options."""
    props = scene.skelsplat_retarget
    if props.target is None:
        raise SkelsplatError("retarget: pick the target armature first")
    if not props.bone_map:
        fill_map_rows(scene)
    options = RetargetOptions(root_motion=props.root_motion, scale=props.scale,
                              plant_feet=props.plant_feet)

    wm = bpy.context.window_manager

    def progress(fraction: float, message: str) -> None:
        props.progress, props.message = fraction, message
        wm.progress_update(fraction)  # the cursor's indicator: panels cannot redraw meanwhile

    wm.progress_begin(0.0, 1.0)
    try:
        outcome = retarget_motion(motion, props.target, bone_map=map_from_rows(scene),
                                  take_name=take_name, options=options, scene=scene,
                                  progress=progress)
    finally:
        wm.progress_end()
    props.message = (f"{outcome.action.name}: {len(outcome.bone_map.bones)} bones, scale "
                     f"{outcome.result.scale:.2f}")
    return outcome


PRESET_NAMES_ONLY = ("rigify", "rigify_metarig", "mixamo", "ue5_mannequin", "skelsplat")
