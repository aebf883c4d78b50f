"""The add-on's enums offer exactly core's identifiers, in core's order, and the CLI's
choices are the same tuples."""

from __future__ import annotations

import argparse

import pytest

from skelsplat.core.animation import FLOOR_MODES
from skelsplat.core.armature import REST_POSES
from skelsplat.core.calibration.board import BOARD_KINDS, DICTIONARIES
from skelsplat.core.camera import LENS_MODELS
from skelsplat.core.detect.runner import BACKENDS
from skelsplat.core.fit.options import DEVICES, MODES, SKELETONS, SMOOTHERS
from skelsplat.core.retarget.bone_map import PRESET_NAMES
from skelsplat.core.retarget.solve import ROOT_MOTIONS

#: (RNA struct name, property) -> core's tuple of identifiers
ENUMS = {
    ("SKELSPLAT_PG_scene", "device"): DEVICES,
    ("SKELSPLAT_PG_scene", "mode"): MODES,
    ("SKELSPLAT_PG_scene", "smooth"): SMOOTHERS,
    ("SKELSPLAT_PG_scene", "skeleton"): SKELETONS,
    ("SKELSPLAT_PG_scene", "backend"): BACKENDS,
    ("SKELSPLAT_AP_preferences", "default_device"): DEVICES,
    ("SKELSPLAT_OT_detect", "backend"): BACKENDS,
    ("SKELSPLAT_OT_fit", "device"): DEVICES,
    ("SKELSPLAT_OT_fit", "mode"): MODES,
    ("SKELSPLAT_OT_fit", "smooth"): SMOOTHERS,
    ("SKELSPLAT_OT_fit", "skeleton"): SKELETONS,
    ("SKELSPLAT_OT_bake", "rest_pose"): REST_POSES,
    ("SKELSPLAT_OT_bake", "floor"): FLOOR_MODES,
    ("SKELSPLAT_PG_calibration", "board"): BOARD_KINDS,
    ("SKELSPLAT_PG_calibration", "model"): LENS_MODELS,
    ("SKELSPLAT_PG_calibration", "dictionary"): DICTIONARIES,
    ("SKELSPLAT_PG_retarget", "preset"): PRESET_NAMES,
    ("SKELSPLAT_PG_retarget", "root_motion"): ROOT_MOTIONS,
}


@pytest.mark.bpy
def test_every_enum_offers_cores_identifiers(empty_scene) -> None:
    import bpy

    import skelsplat

    skelsplat.register()
    classes = {c.__name__: c for c in skelsplat.blender_classes()}
    try:
        for (struct, prop), expected in ENUMS.items():
            cls = classes[struct]
            if "_OT_" in struct:  # an operator's properties live on its RNA type
                op = getattr(bpy.ops.skelsplat, cls.bl_idname.split(".")[1])
                rna = op.get_rna_type().properties[prop]
            else:
                rna = cls.bl_rna.properties[prop]
            got = tuple(item.identifier for item in rna.enum_items)
            assert got == tuple(expected), (struct, prop)
            # every identifier has the add-on's own words (not the fallback label)
            if prop != "dictionary":  # dictionaries are their own description
                assert all(item.description for item in rna.enum_items), (struct, prop)
    finally:
        skelsplat.unregister()


def test_enum_items_follow_core_and_refuse_stale_words() -> None:
    pytest.importorskip("bpy")
    from skelsplat.addon.enum_items import enum_items

    items = enum_items(("a", "in_place"), {"a": ("A", "the a")})
    assert items == [("a", "A", "the a"), ("in_place", "In Place", "")]
    with pytest.raises(ValueError, match="'gone'"):
        enum_items(("a",), {"a": ("A", ""), "gone": ("Gone", "")})


def _choices(argv0: str, dest: str) -> tuple:
    from skelsplat.cli.main import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    cmd = sub.choices[argv0]
    return tuple(next(a for a in cmd._actions if a.dest == dest).choices)


@pytest.mark.parametrize(("command", "dest", "expected"), [
    ("run", "backend", BACKENDS), ("detect", "backend", BACKENDS),
    ("run", "rest_pose", REST_POSES), ("run", "floor", FLOOR_MODES),
    ("run", "device", DEVICES), ("fit", "smooth", SMOOTHERS), ("bench", "device", DEVICES),
    ("fit", "skeleton", SKELETONS),
    ("calibrate", "model", LENS_MODELS), ("retarget", "root_motion", ROOT_MOTIONS),
])
def test_cli_choices_are_cores_tuples(command: str, dest: str, expected: tuple) -> None:
    assert _choices(command, dest) == tuple(expected)


@pytest.mark.bpy
def test_detector_choice_is_named_backend_everywhere(empty_scene) -> None:
    """One option name: ``--backend`` (CLI), ``DetectOptions.backend`` (API) and the
    ``backend`` property of the scene and the Detect operator, labelled "Detector"."""
    import dataclasses

    import bpy

    import skelsplat
    from skelsplat.core.detect import DetectOptions

    assert "backend" in {f.name for f in dataclasses.fields(DetectOptions)}
    skelsplat.register()
    try:
        scene = bpy.types.Scene.bl_rna.properties["skelsplat"].fixed_type.properties
        op = bpy.ops.skelsplat.detect.get_rna_type().properties
        for props in (scene, op):
            assert props["backend"].name == "Detector"
            assert "detector" not in props
        assert op["backend"].enum_items["onnx"].name == "ONNX"
    finally:
        skelsplat.unregister()
