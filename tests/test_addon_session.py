"""The add-on driven headless through its own operators, as its panels would (issue 17):
no silent video pairing, re-import in place, fits kept beside the .blend across saves,
descriptions everywhere, disabled buttons that say why, paths never remembered."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.bpy


@pytest.fixture
def registered(empty_scene):
    import skelsplat
    from skelsplat.addon import jobs, session

    skelsplat.register()
    yield empty_scene
    jobs.clear()
    session.KEYPOINTS.clear()
    session.MOTIONS.clear()
    skelsplat.unregister()


@pytest.fixture(scope="module")
def capture(tmp_path_factory) -> dict:
    """Four calibrated cameras (cam01..cam04) and four 4-frame videos named a..d."""
    from io_synthetic import ring_rig

    from skelsplat.core.calibration import write_calibration_toml
    from skelsplat.core.video import write_video

    root = tmp_path_factory.mktemp("capture")
    rig = ring_rig(4, size=(128, 72), distortion=False)
    cal = write_calibration_toml(rig, root / "cal.toml")
    videos = root / "videos"
    videos.mkdir()
    for i, name in enumerate("abcd"):
        frames = np.full((4, 72, 128, 3), 40 * i, np.uint8)
        write_video(videos / f"{name}.mp4", frames, fps=25.0)
    return {"cal": cal, "videos": videos, "rig": rig}


def test_videos_are_paired_by_order_only_when_chosen_and_then_listed(registered, capture):
    import bpy

    props = registered.skelsplat
    with pytest.raises(RuntimeError, match=r"no video for camera\(s\) \['cam01'.*"
                                           r"sorted file-name order\) \(Pair Videos by Order\)"):
        bpy.ops.skelsplat.import_capture(calibration_path=str(capture["cal"]),
                                         footage_path=str(capture["videos"]))
    assert not props.cameras and "cam01" not in bpy.data.objects
    assert bpy.ops.skelsplat.import_capture(calibration_path=str(capture["cal"]),
                                            footage_path=str(capture["videos"]),
                                            pair_by_order=True) == {"FINISHED"}
    assert [r.video for r in props.cameras] == ["a.mp4", "b.mp4", "c.mp4", "d.mp4"]
    pairing = [w.name for w in props.warnings if "paired with cameras by sorted" in w.name]
    assert len(pairing) == 1
    assert "cam01 <- a.mp4, cam02 <- b.mp4, cam03 <- c.mp4, cam04 <- d.mp4" in pairing[0]
    assert props.pair_by_order  # the choice is the scene's, visible in the panel


def test_reimport_updates_the_cameras_in_place_and_keeps_the_device(registered, capture):
    import bpy

    from skelsplat.addon.capture import ROLE

    props = registered.skelsplat
    kw = {"calibration_path": str(capture["cal"]), "footage_path": str(capture["videos"]),
          "pair_by_order": True, "take_name": "t"}
    assert bpy.ops.skelsplat.import_capture(**kw) == {"FINISHED"}
    first = {o.name: o.as_pointer() for o in bpy.data.objects}
    props.device = "cpu"  # the user's choice after the first import
    assert bpy.ops.skelsplat.import_capture(**kw) == {"FINISHED"}
    assert props.device == "cpu"
    assert {o.name: o.as_pointer() for o in bpy.data.objects} == first  # same objects
    colls = [c for c in bpy.data.collections if c.get(ROLE) == "collection"]
    assert [c.name for c in colls] == ["t cameras"]
    assert sorted(o.name for o in colls[0].objects) == ["cam01", "cam02", "cam03", "cam04"]
    assert all(len(bpy.data.objects[n].data.background_images) == 1 for n in first)
    assert len(props.cameras) == 4


def _rna(cls):
    """The registered RNA type of an operator or property group class."""
    import bpy

    if issubclass(cls, bpy.types.Operator):
        module, name = cls.bl_idname.split(".")
        return getattr(getattr(bpy.ops, module), name).get_rna_type()
    return cls.bl_rna


def test_operator_paths_are_never_remembered(registered):
    import bpy

    from skelsplat import blender_classes

    classes = blender_classes()

    checked = 0
    for cls in classes:
        if not issubclass(cls, bpy.types.Operator):
            continue
        for name, prop in _rna(cls).properties.items():
            if getattr(prop, "subtype", "") in ("FILE_PATH", "DIR_PATH"):
                assert prop.is_skip_save, f"{cls.bl_idname}.{name} is not SKIP_SAVE"
                checked += 1
    assert checked >= 4  # import_capture (2), import_keypoints, export


def test_every_property_has_a_description(registered):
    import bpy

    from skelsplat import blender_classes

    classes = blender_classes()

    missing = []
    n = 0
    for cls in classes:
        if not issubclass(cls, (bpy.types.Operator, bpy.types.PropertyGroup,
                                bpy.types.AddonPreferences)):
            continue
        for name in getattr(cls, "__annotations__", {}):
            n += 1
            if not _rna(cls).properties[name].description.strip():
                missing.append(f"{cls.__name__}.{name}")
    assert n > 40, n
    assert missing == [], missing


def test_disabled_buttons_say_why(registered):
    import bpy

    with pytest.raises(RuntimeError, match="No fit yet: run Fit first"):
        bpy.ops.skelsplat.bake()
    with pytest.raises(RuntimeError, match="bake a fit onto the armature first"):
        bpy.ops.skelsplat.export(format="BVH")


def _motion():
    from skelsplat.core.motion import Motion3D

    X = np.random.default_rng(0).normal(size=(3, 2, 3))
    return Motion3D(X, ["pelvis", "neck"], np.ones((3, 2), bool), fps=30.0)


def test_fits_live_beside_the_blend_across_saves(registered, tmp_path):
    import bpy

    from skelsplat.addon import session

    scene, props = registered, registered.skelsplat
    motion = _motion()
    path = session.store_fit(scene, motion)  # before the file was ever saved
    assert Path(props.motion_path) == path and path.is_file()
    assert not path.is_relative_to(tmp_path)
    first = tmp_path / "a" / "take.blend"
    first.parent.mkdir()
    bpy.ops.wm.save_as_mainfile(filepath=str(first))
    assert props.motion_path == "//skelsplat_fits/take_fit1.npz"
    assert (first.parent / "skelsplat_fits" / "take_fit1.npz").is_file()
    # saved elsewhere: the fit goes along, relative to the new file
    second = tmp_path / "b" / "copy.blend"
    second.parent.mkdir()
    bpy.ops.wm.save_as_mainfile(filepath=str(second))
    assert props.motion_path == "//skelsplat_fits/take_fit1.npz"
    stored = second.parent / "skelsplat_fits" / "take_fit1.npz"
    assert stored.is_file()
    session.MOTIONS.clear()
    bpy.ops.wm.open_mainfile(filepath=str(second))
    again = session.current_motion(bpy.context.scene)
    np.testing.assert_array_equal(again.joints3d, motion.joints3d)
    # a fit made in a saved file goes straight into its folder
    path = session.store_fit(bpy.context.scene, motion)
    assert path == stored.with_name("take_fit2.npz")
    assert bpy.context.scene.skelsplat.motion_path == "//skelsplat_fits/take_fit2.npz"
