"""Blender-side glue: properties, preferences, jobs, scene building, baking, export.

Everything here may import ``bpy``; the maths lives in ``core/``. Nothing here imports
``operators/``, ``panels/`` or ``cli/``: the extension's root ``__init__.py`` registers the
classes of this folder, the operators and the panels.
"""
