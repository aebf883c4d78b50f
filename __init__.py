"""SkelSplat: multi-view markerless motion capture (Blender extension + headless core).

This root package is both the Blender extension (``bl_ext.<repo>.skelsplat``) and the
Python package ``skelsplat``. Importing it never imports ``bpy``: Blender calls
:func:`register`, which pulls in the Blender-side glue in ``addon/`` lazily.
"""

__version__ = "0.1.0"


def register() -> None:
    """Register the extension's classes and properties (called by Blender)."""
    from . import addon

    addon.register()


def unregister() -> None:
    """Remove everything :func:`register` added (called by Blender)."""
    from . import addon

    addon.unregister()
