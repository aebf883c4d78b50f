"""Retarget panel and operators: fill/edit/save the map, retarget, runs list (switch, NLA,
delete), Bake offering to retarget onto a selected foreign armature, proxy character, engine
preset export with trimming, and every panel drawing only real RNA."""

from __future__ import annotations

import numpy as np
import pytest
import retarget_rigs as rigs
from test_addon_register import _Recorder
from test_retarget import source  # noqa: F401 - the CMU clip fixture

pytestmark = pytest.mark.bpy


@pytest.fixture
def registered():
    import skelsplat

    skelsplat.register()
    yield
    skelsplat.unregister()


def test_retarget_panel_workflow(empty_scene, registered, source, tmp_path) -> None:  # noqa: F811
    import bpy

    from skelsplat.addon import session
    from skelsplat.core.retarget.bone_map import BoneMap
    from skelsplat.panels import retarget_panel

    scene = empty_scene
    session.MOTIONS[scene.name] = source
    scene.skelsplat.take_name = "walk"
    try:
        fig = rigs.figure(rigs.actor_lengths(source.joints3d), "mixamo")
        hero = rigs.build_armature("Hero", rigs.mixamo_bones(fig), seed=7)
        bpy.context.view_layer.objects.active = hero
        hero.select_set(True)
        # Bake with a foreign armature selected: baked onto ours, Retarget is set to it.
        assert bpy.ops.skelsplat.bake(ellipsoids=False) == {"FINISHED"}
        props = scene.skelsplat_retarget
        assert props.target == hero
        assert bpy.ops.skelsplat.retarget_fill_map() == {"FINISHED"}
        rows = {r.name: r.bone for r in props.bone_map}
        assert rows["upper_arm.L"] == "mixamorig:LeftArm" and rows["root"] == ""
        props.bone_map["toe.L"].bone = ""  # the user's edit: leave the left toe alone
        props.map_path = str(tmp_path / "hero.json")
        assert bpy.ops.skelsplat.retarget_save_map() == {"FINISHED"}
        assert "toe.L" not in BoneMap.load(tmp_path / "hero.json").bones
        assert bpy.ops.skelsplat.retarget() == {"FINISHED"}
        assert bpy.ops.skelsplat.retarget() == {"FINISHED"}
        names = [r.name for r in props.runs]
        assert names == ["walk|Hero|retarget1", "walk|Hero|retarget2", "walk|run1"]
        assert props.progress == 1.0 and "retarget2" in props.message
        curves = {c.data_path for c in __import__(
            "skelsplat.addon.actions", fromlist=["action_fcurves"]).action_fcurves(
            bpy.data.actions["walk|Hero|retarget2"])}
        assert not any("LeftToeBase" in p for p in curves)
        props.run_index = 0
        assert bpy.ops.skelsplat.run_action(mode="SWITCH") == {"FINISHED"}
        assert hero.animation_data.action.name == "walk|Hero|retarget1"
        assert bpy.ops.skelsplat.run_action(mode="NLA") == {"FINISHED"}
        assert [s.action.name for t in hero.animation_data.nla_tracks for s in t.strips] == [
            "walk|Hero|retarget1"]
        props.run_index = 1
        assert bpy.ops.skelsplat.run_action(mode="DELETE") == {"FINISHED"}
        assert "walk|Hero|retarget2" not in bpy.data.actions and "Hero" in bpy.data.objects
        assert bpy.ops.skelsplat.proxy_mesh() == {"FINISHED"}
        proxy = next(o for o in bpy.data.objects if o.get("skelsplat_role") == "proxy")
        assert proxy.modifiers["Armature"].object.get("skelsplat_role") == "armature"
        assert len(proxy.vertex_groups) == len(proxy.parent.data.bones)
        # Engine preset export of the target with a trimmed range; never into an unsaved
        # .blend's working directory.
        props.export_preset, props.trim_start, props.trim_end = "BVH", 5, 20
        with pytest.raises(RuntimeError, match="not saved"):
            bpy.ops.skelsplat.export_preset()
        scene.skelsplat.export_dir = str(tmp_path)
        assert bpy.ops.skelsplat.export_preset() == {"FINISHED"}
        text = (tmp_path / "walk.bvh").read_text()
        assert "Frames: 16" in text and "mixamorig:LeftArm" in text
        # Panels draw real RNA only.
        log: list = []
        for cls in retarget_panel.classes:
            if cls.__name__.startswith("SKELSPLAT_PT_"):
                cls.draw(type("P", (), {"layout": _Recorder(log)})(), bpy.context)
        assert ("list", "bone_map") in log and ("list", "runs") in log
        assert np.isfinite(props.scale)
    finally:
        session.MOTIONS.clear()
