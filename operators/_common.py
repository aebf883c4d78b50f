"""Shared operator plumbing: known errors become a report and CANCELLED."""

from __future__ import annotations

from collections.abc import Callable

import bpy

from ..addon import jobs
from ..core.errors import SkelsplatError

SYNCHRONOUS_DESCRIPTION = "Run to completion before returning (scripts, batch, tests)"


class JobOperator:
    """Mixin of an operator that starts the background job ``job_kind``: not available while
    such a job runs; ``synchronous`` runs it to completion (scripts, batch, tests)."""

    job_kind = ""
    #: Shown on the greyed-out button while such a job runs ("": no message).
    busy_message = ""
    synchronous: bpy.props.BoolProperty(name="Synchronous", default=False,
                                        description=SYNCHRONOUS_DESCRIPTION,
                                        options={"SKIP_SAVE"})

    @classmethod
    def poll(cls, context):
        if jobs.running(cls.job_kind):
            if cls.busy_message:
                cls.poll_message_set(cls.busy_message)
            return False
        return True


class SceneSettings:
    """Mixin of an operator whose ``scene_fields`` take, when it is invoked from the UI, the
    values of the ``scene.skelsplat`` fields of the same names (the panel's settings)."""

    scene_fields: tuple[str, ...] = ()

    def invoke(self, context, event):
        props = context.scene.skelsplat
        for name in self.scene_fields:
            setattr(self, name, getattr(props, name))
        return self.execute(context)


def field_hint(op: bpy.types.Operator, option: str | None) -> str:
    """`` (Field Name)``: the operator's or the panel's field for the setting an error
    names (core speaks of the setting's meaning; the add-on names its own control)."""
    prop = op.properties.bl_rna.properties.get(option) if option else None
    return f" ({prop.name})" if prop is not None else jobs.field_hint(option)


def run_action(op: bpy.types.Operator, action: Callable[[], object], done: str = ""
               ) -> set[str]:
    """Call ``action``; report SkelsplatError as an error and cancel, else report ``done``."""
    try:
        action()
    except SkelsplatError as exc:
        op.report({"ERROR"}, str(exc) + field_hint(op, getattr(exc, "option", None)))
        return {"CANCELLED"}
    if done:
        op.report({"INFO"}, done)
    return {"FINISHED"}
