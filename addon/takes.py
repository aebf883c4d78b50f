"""A take's runs: every bake (``"<take>|run<n>"``) and retarget (``"<take>|<target>|retarget<n>"``)
is an action; list, switch, compare (NLA), delete them, and a proxy character mesh.

Switching assigns the action (and its slot) to the object it was made for and keeps the one
it replaces (fake user). Deleting removes the action only (never an object). Pushing to NLA
adds a strip on a new track, so runs can be compared side by side with the NLA editor.
"""

from __future__ import annotations

from dataclasses import dataclass

import bpy
import numpy as np

from ..core.errors import SkelsplatError
from .actions import SLOTTED
from .capture import ROLE, TAKE
from .retarget import KIND_PROP, TAKE_PROP, TARGET_PROP

PROXY_ROLE = "proxy"


@dataclass
class Run:
    """One run of a take: its action and the object it animates."""

    action: bpy.types.Action
    owner: bpy.types.Object | None
    kind: str  # "bake" or "retarget"


def _take_armature(take_name: str) -> bpy.types.Object | None:
    found = [o for o in bpy.data.objects if o.type == "ARMATURE"
             and o.get(ROLE) == "armature" and o.get(TAKE) == take_name]
    return found[-1] if found else None


def take_runs(take_name: str) -> list[Run]:
    """The take's armature actions (bakes, then retargets), in name order."""
    out = []
    own = _take_armature(take_name)
    for action in sorted(bpy.data.actions, key=lambda a: a.name):
        if action.get(KIND_PROP) == "retarget" and action.get(TAKE_PROP) == take_name:
            out.append(Run(action, bpy.data.objects.get(action.get(TARGET_PROP, "")),
                           "retarget"))
        elif action.name.startswith(f"{take_name}|run") and action.name.count("|") == 1:
            out.append(Run(action, own, "bake"))
    return out


def _run(take_name: str, action_name: str) -> Run:
    for run in take_runs(take_name):
        if run.action.name == action_name:
            return run
    raise SkelsplatError(f"take {take_name!r} has no run {action_name!r}")


def _assign(obj: bpy.types.Object, action: bpy.types.Action) -> None:
    anim = obj.animation_data or obj.animation_data_create()
    if anim.action is not None and anim.action != action:
        anim.action.use_fake_user = True
    anim.action = action
    if SLOTTED and len(action.slots):
        anim.action_slot = action.slots[0]


def switch_run(take_name: str, action_name: str) -> Run:
    """Make ``action_name`` the active action of the object it was made for."""
    run = _run(take_name, action_name)
    if run.owner is None:
        raise SkelsplatError(f"run {action_name!r}: the object it animates is gone")
    _assign(run.owner, run.action)
    return run


def delete_run(take_name: str, action_name: str) -> None:
    """Remove one run's action (the objects stay)."""
    run = _run(take_name, action_name)
    bpy.data.actions.remove(run.action)


def push_to_nla(take_name: str, action_name: str) -> bpy.types.NlaStrip:
    """Add the run as a strip on a new NLA track of its object (to compare runs)."""
    run = _run(take_name, action_name)
    if run.owner is None:
        raise SkelsplatError(f"run {action_name!r}: the object it animates is gone")
    anim = run.owner.animation_data or run.owner.animation_data_create()
    track = anim.nla_tracks.new()
    track.name = action_name
    first = int(run.action.frame_range[0])
    strip = track.strips.new(action_name, first, run.action)
    return strip


def proxy_mesh(armature: bpy.types.Object, radius: float = 0.04) -> bpy.types.Object:
    """A simple character to judge the motion: one capsule-like box per bone, each skinned
    rigidly to its bone (vertex group + Armature modifier); made once per armature."""
    for obj in bpy.data.objects:
        if obj.get(ROLE) == PROXY_ROLE and obj.parent == armature:
            return obj
    verts, faces, groups = [], [], []
    cube = np.array([[x, y, z] for x in (-1, 1) for y in (0, 1) for z in (-1, 1)], float)
    quads = [(0, 1, 3, 2), (4, 6, 7, 5), (0, 4, 5, 1), (2, 3, 7, 6), (0, 2, 6, 4), (1, 5, 7, 3)]
    for bone in armature.data.bones:
        M = np.array(bone.matrix_local)
        length = bone.length
        r = min(radius, 0.25 * length) if length > 0 else radius
        local = cube * [r, length, r]
        pts = local @ M[:3, :3].T + M[:3, 3]
        base = len(verts)
        verts.extend(pts.tolist())
        faces.extend(tuple(base + i for i in q) for q in quads)
        groups.append((bone.name, list(range(base, base + 8))))
    mesh = bpy.data.meshes.new(f"{armature.name} proxy")
    mesh.from_pydata(verts, [], faces)
    obj = bpy.data.objects.new(f"{armature.name} proxy", mesh)
    for coll in armature.users_collection:
        coll.objects.link(obj)
    obj.parent = armature
    obj[ROLE] = PROXY_ROLE
    if armature.get(TAKE) is not None:
        obj[TAKE] = armature[TAKE]
    for name, idx in groups:
        obj.vertex_groups.new(name=name).add(idx, 1.0, "REPLACE")
    mod = obj.modifiers.new("Armature", "ARMATURE")
    mod.object = armature
    return obj
