"""Command-line interface (``skelsplat ...``). Sits above ``core/`` and ``addon/``; imports
``bpy`` lazily, only in the stages that need Blender."""
