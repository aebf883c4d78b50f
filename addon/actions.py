"""One place that hides legacy (4.2/4.3) versus slotted (4.4+) actions, and bulk keying.

Slotted actions (Blender 4.4+) hold F-curves in a channelbag: action -> layer -> keyframe
strip -> channelbag for the slot the animated ID uses. ``Action.fcurves`` is legacy-only and
gone in 5.0. Callers only use :func:`new_action`, :func:`add_fcurve` and :func:`write_keys`.
"""

from __future__ import annotations

from collections.abc import Sequence

import bpy
import numpy as np

#: True when this Blender stores animation in slotted (layered) actions.
SLOTTED = bpy.app.version >= (4, 4, 0) and hasattr(bpy.types, "ActionSlot")

_LINEAR = 1  # FCurve keyframe interpolation enum value of 'LINEAR'


class ActionChannels:
    """A new action assigned to one ID, with a place to create F-curves in.

    Attributes:
        action: the ``bpy.types.Action``.
        id_data: the animated ID (object).
    """

    def __init__(self, id_data: bpy.types.ID, name: str) -> None:
        self.id_data = id_data
        self.action = bpy.data.actions.new(name)
        anim = id_data.animation_data or id_data.animation_data_create()
        self._groups: dict[str, object] = {}
        if SLOTTED:
            slot = self.action.slots.new(id_type=id_data.id_type, name=id_data.name)
            anim.action = self.action
            anim.action_slot = slot
            strip = self.action.layers.new("Layer").strips.new(type="KEYFRAME")
            self._bag = strip.channelbag(slot, ensure=True)
        else:  # Blender 4.2 / 4.3
            anim.action = self.action
            self._bag = None

    def add_fcurve(self, data_path: str, index: int = 0, group: str = "") -> bpy.types.FCurve:
        """A new F-curve for ``data_path[index]`` in the named group (created once)."""
        if self._bag is None:
            return self.action.fcurves.new(data_path, index=index, action_group=group)
        fcurve = self._bag.fcurves.new(data_path, index=index)
        if group:
            if group not in self._groups:
                self._groups[group] = self._bag.groups.new(group)
            fcurve.group = self._groups[group]
        return fcurve

    def add_vector(self, data_path: str, frames: np.ndarray, values: np.ndarray,
                   group: str = "") -> list[bpy.types.FCurve]:
        """Key every component of a vector property.

        Args:
            frames: [F] scene frames.
            values: [F, C] component values (C = 3 for location, 4 for quaternions).
        """
        values = np.asarray(values, dtype=float).reshape(len(frames), -1)
        curves = []
        for c in range(values.shape[1]):
            fcurve = self.add_fcurve(data_path, c, group)
            write_keys(fcurve, frames, values[:, c])
            curves.append(fcurve)
        return curves


def new_action(id_data: bpy.types.ID, name: str) -> ActionChannels:
    """Create an action named ``name`` (Blender may add a suffix) and assign it to ``id_data``."""
    return ActionChannels(id_data, name)


def write_keys(fcurve: bpy.types.FCurve, frames: Sequence[float] | np.ndarray,
               values: Sequence[float] | np.ndarray) -> None:
    """Key ``values`` [F] at ``frames`` [F] in one bulk write, with linear interpolation."""
    frames = np.asarray(frames, dtype=np.float32).ravel()
    values = np.asarray(values, dtype=np.float32).ravel()
    if frames.shape != values.shape:
        raise ValueError(f"{frames.size} frames for {values.size} values")
    n = frames.size
    points = fcurve.keyframe_points
    points.add(n)
    co = np.ascontiguousarray(np.stack([frames, values], axis=1).ravel(), dtype=np.float32)
    points.foreach_set("co", co)
    points.foreach_set("interpolation", np.full(n, _LINEAR, dtype=np.int32))
    fcurve.update()


def action_fcurves(action: bpy.types.Action) -> list[bpy.types.FCurve]:
    """All F-curves of an action (every slot's channelbag on 4.4+)."""
    if not SLOTTED:
        return list(action.fcurves)
    curves: list[bpy.types.FCurve] = []
    for layer in action.layers:
        for strip in layer.strips:
            for bag in strip.channelbags:
                curves.extend(bag.fcurves)
    return curves
