"""Shared operator plumbing: known errors become a report and CANCELLED."""

from __future__ import annotations

from collections.abc import Callable

import bpy

from ..core.errors import SkelsplatError


def run_action(op: bpy.types.Operator, action: Callable[[], object], done: str = ""
               ) -> set[str]:
    """Call ``action``; report SkelsplatError as an error and cancel, else report ``done``."""
    try:
        action()
    except SkelsplatError as exc:
        op.report({"ERROR"}, str(exc))
        return {"CANCELLED"}
    if done:
        op.report({"INFO"}, done)
    return {"FINISHED"}
