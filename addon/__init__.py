"""Blender-side glue: registration, properties, preferences, jobs, scene building, baking,
export. Everything here may import ``bpy``; the maths lives in ``core/``.

Registration joins the ``classes`` tuples of properties, preferences, operators and panels
(in that order) and attaches the ``scene.skelsplat`` / ``object.skelsplat`` namespaces after
the classes exist; :func:`unregister` undoes it in reverse.
"""

from __future__ import annotations

import bpy

from ..operators import calibrate_ops, capture_ops, job_ops, prefs_ops, result_ops, retarget_ops
from ..panels import calibration_panel, main_panel, retarget_panel
from . import calibration_props, deps, jobs, preferences, properties, retarget_props, session

_modules = (calibration_props, properties, retarget_props, preferences, capture_ops, job_ops,
            result_ops, retarget_ops, prefs_ops, calibrate_ops, main_panel, retarget_panel,
            calibration_panel)
classes = tuple(c for m in _modules for c in m.classes)
_register_classes, _unregister_classes = bpy.utils.register_classes_factory(classes)


def register() -> None:
    _register_classes()
    properties.attach()
    retarget_props.attach()
    main_panel.attach()
    session.attach_handlers()
    prefs = preferences.get_preferences()
    for problem in deps.activate_saved_paths(preferences.ROOT_PACKAGE,
                                             prefs.python_path if prefs else ""):
        print(f"SkelSplat: {problem}")


def unregister() -> None:
    jobs.clear()
    session.detach_handlers()
    main_panel.detach()
    retarget_props.detach()
    properties.detach()
    _unregister_classes()
