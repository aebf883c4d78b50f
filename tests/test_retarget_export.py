"""Engine presets: a retargeted character exported as FBX (Unity, Unreal), GLB and BVH,
re-imported in headless Blender, matches the retargeted pose within 1 mm."""

from __future__ import annotations

import numpy as np
import pytest
import retarget_rigs as rigs
from test_retarget import source  # noqa: F401 - the CMU clip fixture

pytestmark = pytest.mark.bpy


def _heads(obj, frames) -> np.ndarray:
    import bpy

    out = []
    for f in frames:
        bpy.context.scene.frame_set(f)
        out.append([np.array(obj.matrix_world @ pb.head) for pb in obj.pose.bones
                    if pb.name.startswith("mixamorig:") and "Hand" not in pb.name[10:14]])
    return np.array(out)


def test_presets_round_trip(empty_scene, source, tmp_path) -> None:  # noqa: F811
    import bpy

    from skelsplat.addon.export import export_bvh, export_fbx, export_gltf
    from skelsplat.addon.retarget import retarget_motion
    from skelsplat.core.errors import ExportError

    empty_scene.render.fps = 30  # the take's rate (glTF keys are in seconds)
    fig = rigs.figure(rigs.actor_lengths(source.joints3d), "mixamo")
    obj = rigs.build_armature("Hero", rigs.mixamo_bones(fig), seed=5)
    retarget_motion(source, obj, bone_map="mixamo", take_name="walk")
    frames = [1, 30, 60]
    names = {pb.name for pb in obj.pose.bones}
    want = {pb: None for pb in names}
    for f in frames:
        bpy.context.scene.frame_set(f)
        for pb in obj.pose.bones:
            want.setdefault(pb.name, None)
            want[pb.name] = (want[pb.name] or []) + [np.array(obj.matrix_world @ pb.head)]
    files = {"unity": export_fbx(tmp_path / "unity.fbx", armature=obj, preset="unity",
                                 frame_range=(1, 60), fps=30.0),
             "unreal": export_fbx(tmp_path / "unreal.fbx", armature=obj, preset="unreal",
                                  frame_range=(1, 60), fps=30.0),
             "glb": export_gltf(tmp_path / "hero.glb", armature=obj, frame_range=(1, 60),
                                fps=30.0),
             "bvh": export_bvh(tmp_path / "hero.bvh", armature=obj, frame_range=(1, 60))}
    assert not list(tmp_path.glob(".*partial*"))  # temporary files renamed away
    with pytest.raises(ExportError, match="exists"):
        export_bvh(files["bvh"], armature=obj)
    text = files["bvh"].read_text()
    assert text.count("CHANNELS 6") == 1 and text.count("CHANNELS 3") == len(names) - 1
    root = [float(v) for v in text.split("OFFSET", 1)[1].split()[:3]]
    assert root[1] > 0.8 and abs(root[2]) < 0.1  # Y up: the hips' height is on Y
    for kind, path in files.items():
        before = set(bpy.data.objects)
        if kind in ("unity", "unreal"):
            bpy.ops.import_scene.fbx(filepath=str(path), anim_offset=0, **(
                {"axis_forward": "X", "axis_up": "Z"} if kind == "unreal" else {}))
        elif kind == "glb":
            bpy.ops.import_scene.gltf(filepath=str(path))
        else:
            bpy.ops.import_anim.bvh(filepath=str(path), update_scene_fps=False,  # Y up
                                    update_scene_duration=False)
        new = next(o for o in bpy.data.objects if o not in before and o.type == "ARMATURE")
        worst = 0.0
        for k, f in enumerate(frames):
            bpy.context.scene.frame_set(f)
            for pb in new.pose.bones:
                if pb.name in want:
                    got = np.array(new.matrix_world @ pb.head)
                    worst = max(worst, float(np.linalg.norm(got - want[pb.name][k])))
        print(kind, f"worst head error {worst * 1000:.3f} mm")
        assert worst < 1e-3, (kind, worst)
