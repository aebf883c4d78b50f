"""SkelSplat: multi-view markerless motion capture (Blender extension + headless core).

This root package is both the Blender extension (``bl_ext.<repo>.skelsplat``) and the
Python package ``skelsplat``. Importing it never imports ``bpy``. It is also the
extension's registration root: :func:`register` (called by Blender) joins the ``classes``
tuples of ``addon/`` (properties, preferences), ``operators/`` and ``panels/`` in that
order, so the Blender glue in ``addon/`` never imports the layers above it.
"""

__version__ = "0.1.0"

_unregister_classes = None  # set by register(): unregisters its classes in reverse


def blender_classes() -> tuple:
    """Every class the extension registers, in registration order (imports ``bpy``)."""
    from .addon import calibration_props, preferences, properties, retarget_props
    from .operators import (
        calibrate_ops,
        capture_ops,
        job_ops,
        prefs_ops,
        result_ops,
        retarget_ops,
    )
    from .panels import calibration_panel, main_panel, retarget_panel

    modules = (calibration_props, properties, retarget_props, preferences, capture_ops,
               job_ops, result_ops, retarget_ops, prefs_ops, calibrate_ops, main_panel,
               retarget_panel, calibration_panel)
    return tuple(c for m in modules for c in m.classes)


def register() -> None:
    """Register the extension's classes and properties (called by Blender)."""
    import bpy

    from .addon import deps, preferences, properties, retarget_props, session
    from .panels import main_panel

    global _unregister_classes
    register_classes, _unregister_classes = bpy.utils.register_classes_factory(
        blender_classes())
    register_classes()
    properties.attach()
    retarget_props.attach()
    main_panel.attach()
    session.attach_handlers()
    prefs = preferences.get_preferences()
    for problem in deps.activate_saved_paths(preferences.ROOT_PACKAGE,
                                             prefs.python_path if prefs else ""):
        print(f"SkelSplat: {problem}")


def unregister() -> None:
    """Remove everything :func:`register` added, in reverse (called by Blender)."""
    from .addon import jobs, properties, retarget_props, session
    from .panels import main_panel

    global _unregister_classes
    jobs.clear()
    session.detach_handlers()
    main_panel.detach()
    retarget_props.detach()
    properties.detach()
    if _unregister_classes is not None:
        _unregister_classes()
    _unregister_classes = None
