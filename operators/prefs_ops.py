"""Preferences actions: dependency status, installation, an existing Python environment."""

from __future__ import annotations

import bpy
from bpy.props import BoolProperty, StringProperty

from ..addon import deps, session
from ..addon.preferences import get_preferences
from ._common import run_action


class SKELSPLAT_OT_refresh_dependencies(bpy.types.Operator):
    """Check whether torch, gsplat and mediapipe can be imported (and CUDA availability)"""

    bl_idname = "skelsplat.refresh_dependencies"
    bl_label = "Check Dependencies"
    bl_options = {"REGISTER", "INTERNAL"}

    check_cuda: BoolProperty(name="Check CUDA", default=True,
                             description="Also import torch to see whether CUDA is usable")

    def execute(self, context):
        prefs = get_preferences(context)
        if prefs is None:
            self.report({"ERROR"}, "SkelSplat is not enabled as an add-on")
            return {"CANCELLED"}
        return run_action(self, lambda: session.refresh_dependencies(prefs, self.check_cuda))


class SKELSPLAT_OT_install_dependencies(bpy.types.Operator):
    """pip-install the requirements into the extension's own folder (no admin rights)"""

    bl_idname = "skelsplat.install_dependencies"
    bl_label = "Install Dependencies"
    bl_options = {"REGISTER", "INTERNAL"}

    requirements: StringProperty(name="Requirements", default=deps.DEFAULT_REQUIREMENTS,
                                 description="What to install (pip syntax)")
    python: StringProperty(name="Python", default="", description="Interpreter running pip; "
                           "empty: Blender's own")
    synchronous: BoolProperty(name="Synchronous", default=False, options={"SKIP_SAVE"},
                              description="Run to completion before returning (scripts, tests)")

    def invoke(self, context, event):
        prefs = get_preferences(context)
        if prefs is not None:
            self.requirements = prefs.requirements
        return self.execute(context)

    def execute(self, context):
        kw = self.as_keywords()
        return run_action(self, lambda: session.start_install(**kw))


class SKELSPLAT_OT_add_python_path(bpy.types.Operator):
    """Use the packages of an existing Python 3.11 environment (added to the module path)"""

    bl_idname = "skelsplat.add_python_path"
    bl_label = "Use Environment"
    bl_options = {"REGISTER", "INTERNAL"}

    path: StringProperty(name="site-packages", subtype="DIR_PATH", options={"SKIP_SAVE"},
                         description="site-packages folder of a Python 3.11 environment")

    def invoke(self, context, event):
        prefs = get_preferences(context)
        self.path = self.path or (prefs.python_path if prefs else "")
        return self.execute(context)

    def execute(self, context):
        path = bpy.path.abspath(self.path)
        return run_action(self, lambda: deps.add_site_packages(path),
                          f"SkelSplat: using packages from {path}")


classes = (SKELSPLAT_OT_refresh_dependencies, SKELSPLAT_OT_install_dependencies,
           SKELSPLAT_OT_add_python_path)
