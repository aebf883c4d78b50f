"""Extension preferences: default device, dependency status, where dependencies come from."""

from __future__ import annotations

import bpy
from bpy.props import BoolProperty, CollectionProperty, EnumProperty, StringProperty

from .properties import DEVICE_ITEMS

#: The root package (``skelsplat`` or ``bl_ext.<repo>.skelsplat``): the preferences' id.
ROOT_PACKAGE = __package__.rpartition(".")[0]


class SKELSPLAT_PG_dependency(bpy.types.PropertyGroup):
    """One row of the dependency table (name is the distribution)."""

    importable: BoolProperty(name="Importable", description="The package imports in Blender")
    version: StringProperty(name="Version", description="Installed version")
    detail: StringProperty(name="Detail", description="Why it does not import, or where from")


class SKELSPLAT_AP_preferences(bpy.types.AddonPreferences):
    bl_idname = ROOT_PACKAGE

    default_device: EnumProperty(name="Default device", items=DEVICE_ITEMS, default="auto",
                                 description="Device new scenes fit on")
    python_path: StringProperty(
        name="Python environment", subtype="DIR_PATH",
        description="site-packages of an existing Python 3.11 environment with torch etc. "
                    "(added to Blender's module path)")
    requirements: StringProperty(
        name="Requirements", default="torch==2.13.0 mediapipe==0.10.21",
        description="What Install puts into the extension's own site-packages (pip syntax)")
    dependencies: CollectionProperty(type=SKELSPLAT_PG_dependency,
                                     description="What the extension needs, and its state")

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        layout.prop(self, "default_device")
        box = layout.box()
        row = box.row()
        row.label(text="Dependencies", icon="SCRIPT")
        row.operator("skelsplat.refresh_dependencies", text="Check", icon="FILE_REFRESH")
        for dep in self.dependencies:
            line = box.row()
            line.label(text=dep.name, icon="CHECKMARK" if dep.importable else "CANCEL")
            line.label(text=dep.version or "-")
            line.label(text=dep.detail)
        col = box.column(align=True)
        col.label(text="Install into the extension's own folder (no admin rights):")
        col.prop(self, "requirements", text="")
        col.operator("skelsplat.install_dependencies", icon="IMPORT")
        col = box.column(align=True)
        col.label(text="Or use an existing Python 3.11 environment:")
        col.prop(self, "python_path", text="")
        col.operator("skelsplat.add_python_path", icon="FILE_FOLDER").path = self.python_path
        props = getattr(context.scene, "skelsplat", None)
        if props is not None and props.job_kind == "install":
            box.progress(factor=props.job_progress, text=props.job_message)


classes = (SKELSPLAT_PG_dependency, SKELSPLAT_AP_preferences)


def get_preferences(context: bpy.types.Context | None = None) -> SKELSPLAT_AP_preferences | None:
    """The extension's preferences, or None when it is not enabled as an add-on."""
    context = context or bpy.context
    addon = context.preferences.addons.get(ROOT_PACKAGE)
    return addon.preferences if addon is not None else None
