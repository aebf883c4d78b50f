"""Baking a motion onto the rigid canonical armature, ellipsoids, and FBX / BVH round trips."""

from __future__ import annotations

import numpy as np
import pytest

from skelsplat.core.skeletons import CANONICAL_JOINTS

pytestmark = pytest.mark.bpy

SIGMA = 2.0


J = len(CANONICAL_JOINTS)
B = J + 3  # plus the spine and the two clavicles


def synthetic_motion(n_frames: int = 24, seed: int = 0):
    from test_animation import synthetic_walk

    from skelsplat.core.motion import Motion3D

    rng = np.random.default_rng(seed)
    X, _ = synthetic_walk(n_frames, seed)
    valid = np.ones((n_frames, J), bool)
    valid[5:9, CANONICAL_JOINTS.index("left_wrist")] = False  # a gap the bake bridges
    A = rng.normal(size=(n_frames, J, 3, 3)) * 0.01
    cov = A @ np.swapaxes(A, -1, -2) + 1e-5 * np.eye(3)
    err = rng.uniform(0.5, 4.0, size=(n_frames, 3, J))
    err[:, 2, 0] = np.nan  # camera 2 never saw the pelvis
    return Motion3D(X, list(CANONICAL_JOINTS), valid, covariances=cov, fps=30.0,
                    reprojection_error_px=err, camera_names=["a", "b", "c"],
                    raw_joints3d=X + 0.003)


def _heads(armature, scene, frames) -> dict[int, dict[str, np.ndarray]]:
    out = {}
    for f in frames:
        scene.frame_set(f)
        out[f] = {pb.name: np.array(armature.matrix_world @ pb.head) for pb in armature.pose.bones}
    return out


@pytest.fixture
def baked(empty_scene):
    from skelsplat.addon.blender_stage import bake_motion

    motion = synthetic_motion()
    result = bake_motion(motion, take_name="walk", sigma=SIGMA, raw_empties=True)
    return motion, result, empty_scene


def test_bone_heads_follow_the_fitted_joints(baked) -> None:
    from skelsplat.core.armature import fill_gaps
    from skelsplat.core.floor import transform_points

    motion, result, scene = baked
    anim = result.animation
    fitted = transform_points(anim.alignment, fill_gaps(motion.joints3d, motion.valid))
    assert result.frame_range == (1, 24)
    assert (scene.frame_start, scene.frame_end) == (1, 24)
    assert scene.render.fps == 30
    heads = _heads(result.armature, scene, [1, 7, 13, 24])
    names = anim.joint_names
    # Blender's evaluated armature is exactly the solved animation ...
    worst = max(np.linalg.norm(heads[f][n] - anim.joints[f - 1, j]) for f in heads
                for j, n in enumerate(names))
    assert worst < 1e-5
    # ... which stays near the fit (rigid skeleton; 3 mm noise, feet locked).
    err = [np.linalg.norm(heads[f][n] - fitted[f - 1, CANONICAL_JOINTS.index(n)])
           for f in heads for n in names]
    assert np.mean(err) < 0.01 and max(err) < 0.05
    # Rest pose: the take's median lengths (the synthetic thigh is 0.45 m).
    bones = result.armature.data.bones
    assert (bones["left_knee"].head_local - bones["left_hip"].head_local).length == \
        pytest.approx(0.45, abs=2e-3)
    assert bones["left_knee"].parent.name == "left_hip"
    assert bones["left_knee"].use_connect


def test_keys_are_bulk_written_on_one_new_action(baked) -> None:
    from skelsplat.addon.actions import action_fcurves

    _, result, _ = baked
    assert result.action.name == "walk|run1"
    assert result.armature.animation_data.action == result.action
    curves = action_fcurves(result.action)
    # Quaternions on every bone, a location on the root only, one contact curve per foot.
    assert len(curves) == B * 4 + 3 + 2
    assert sorted(c.data_path for c in curves if c.data_path.endswith(".location")) == \
        ['pose.bones["pelvis"].location'] * 3
    assert all(len(c.keyframe_points) == 24 for c in curves)
    contact = [c for c in curves if "foot_contact" in c.data_path]
    assert {c.keyframe_points[0].interpolation for c in contact} == {"CONSTANT"}
    assert {c.keyframe_points[0].interpolation for c in curves if c not in contact} == \
        {"LINEAR"}


def test_ellipsoids_match_covariances(baked) -> None:
    from skelsplat.core.armature import fill_gaps

    motion, result, scene = baked
    assert len(result.ellipsoids) == J
    meshes = {o.data for o in result.ellipsoids.values()}
    assert len(meshes) == 1  # one shared unit sphere
    colours = {tuple(round(c, 4) for c in o.color) for o in result.ellipsoids.values()}
    assert len(colours) == J
    A = result.animation.alignment  # the ellipsoids move with the floor alignment
    cov = A[:3, :3] @ fill_gaps(motion.covariances, motion.valid) @ A[:3, :3].T
    for f in (1, 12, 24):
        scene.frame_set(f)
        for j, name in enumerate(CANONICAL_JOINTS):
            m = np.array(result.ellipsoids[name].matrix_world)
            M = m[:3, :3]
            np.testing.assert_allclose(M @ M.T, SIGMA**2 * cov[f - 1, j], atol=2e-8)
            if motion.valid[f - 1, j]:
                np.testing.assert_allclose(m[:3, 3], A[:3, :3] @ motion.joints3d[f - 1, j]
                                           + A[:3, 3], atol=1e-6)
    coll = result.ellipsoids["pelvis"].users_collection[0]
    assert coll.name == "walk gaussians"


def test_reprojection_errors_and_raw_empties(baked) -> None:
    motion, result, scene = baked
    err = motion.reprojection_error_px
    k = CANONICAL_JOINTS.index("left_knee")
    mean, peak = result.joint_errors["left_knee"]
    assert mean == pytest.approx(np.nanmean(err[:, :, k]))
    assert peak == pytest.approx(np.nanmax(err[:, :, k]))
    assert result.armature.pose.bones["left_knee"]["reprojection_error_px"] == \
        pytest.approx(mean)
    scene.frame_set(4)
    per_frame = np.nanmean(err[3, :, 0])
    assert result.ellipsoids["pelvis"]["reprojection_error_px"] == pytest.approx(per_frame,
                                                                                 abs=1e-5)
    assert len(result.empties) == J
    A = result.animation.alignment
    np.testing.assert_allclose(np.array(result.empties["neck"].matrix_world)[:3, 3],
                               A[:3, :3] @ motion.raw_joints3d[3, CANONICAL_JOINTS.index("neck")]
                               + A[:3, 3], atol=1e-6)


def test_rebake_keeps_the_first_action_and_foreign_objects(baked) -> None:
    import bpy

    from skelsplat.addon.blender_stage import bake_motion

    _, first, scene = baked
    foreign = bpy.data.objects.new("left_knee", None)  # a user's object with a joint name
    scene.collection.objects.link(foreign)
    foreign.location = (1.0, 2.0, 3.0)
    foreign.select_set(True)
    bpy.context.view_layer.objects.active = foreign
    moved = synthetic_motion()
    moved.joints3d = moved.joints3d + np.array([0.5, 0.0, 0.3])  # same skeleton, moved
    second = bake_motion(moved, take_name="walk", sigma=SIGMA)
    assert second.action.name == "walk|run2"
    assert second.armature == first.armature  # the take's armature is reused
    assert "walk|run1" in bpy.data.actions and bpy.data.actions["walk|run1"].use_fake_user
    assert tuple(foreign.location) == (1.0, 2.0, 3.0) and foreign.animation_data is None
    assert foreign.select_get() and bpy.context.view_layer.objects.active == foreign
    third = bake_motion(moved, take_name="jump", ellipsoids=False)  # a new armature
    assert third.armature != first.armature and third.action.name == "jump|run1"
    other = bake_motion(synthetic_motion(seed=4), take_name="walk", ellipsoids=False)
    assert other.armature != first.armature  # another skeleton: a new rigid armature
    assert foreign.select_get() and bpy.context.view_layer.objects.active == foreign
    heads = _heads(second.armature, scene, [10])[10]
    neck = second.animation.joint_names.index("neck")
    np.testing.assert_allclose(heads["neck"], second.animation.joints[9, neck], atol=1e-5)
    # Switching back to the first action still puts the bones on the first fit.
    second.armature.animation_data.action = first.action
    if hasattr(second.armature.animation_data, "action_slot"):
        second.armature.animation_data.action_slot = first.action.slots[0]
    heads = _heads(second.armature, scene, [10])[10]
    np.testing.assert_allclose(heads["neck"], first.animation.joints[9, neck], atol=1e-5)


def test_bake_operator_fills_the_joint_table(empty_scene, registered) -> None:
    import bpy

    from skelsplat.addon import session

    session.MOTIONS[empty_scene.name] = synthetic_motion()
    empty_scene.skelsplat.take_name = "op"
    assert bpy.ops.skelsplat.bake(sigma=1.0, ellipsoids=False) == {"FINISHED"}
    rows = empty_scene.skelsplat.joint_errors
    assert len(rows) == J and rows["pelvis"].mean_px > 0
    arm = bpy.data.objects["op skeleton"]
    assert arm.skelsplat.take_name == "op" and arm.skelsplat.run_name == "run1"
    session.MOTIONS.clear()


# ---------------------------------------------------------------------------- export
def test_fbx_and_bvh_round_trip_within_a_millimetre(baked, tmp_path) -> None:
    import bpy

    from skelsplat.addon.blender_stage import export_bvh, export_fbx
    from skelsplat.core.errors import ExportError

    _, result, scene = baked
    frames = [1, 9, 24]
    want = _heads(result.armature, scene, frames)
    fbx = export_fbx(tmp_path / "walk.fbx", armature=result.armature)
    bvh = export_bvh(tmp_path / "walk.bvh", armature=result.armature)
    assert "End Site" in bvh.read_text() and "left_wrist" in bvh.read_text()
    with pytest.raises(ExportError, match="exists"):
        export_fbx(fbx, armature=result.armature)
    export_bvh(bvh, armature=result.armature, overwrite=True)

    for kind in ("fbx", "bvh"):
        before = set(bpy.data.objects)
        if kind == "fbx":
            bpy.ops.import_scene.fbx(filepath=str(fbx), anim_offset=0)
        else:
            bpy.ops.import_anim.bvh(filepath=str(bvh),  # Y up: the importer's defaults
                                    update_scene_fps=False, update_scene_duration=False)
        new = next(o for o in bpy.data.objects if o not in before and o.type == "ARMATURE")
        assert len(new.pose.bones) == B  # no leaf bones added
        got = _heads(new, scene, frames)
        worst = max(np.linalg.norm(got[f][n] - want[f][n]) for f in frames for n in want[f])
        assert worst < 1e-3, (kind, worst)


def test_export_operator_refuses_to_clobber(empty_scene, registered, tmp_path) -> None:
    import bpy

    from skelsplat.addon.blender_stage import bake_motion

    bake_motion(synthetic_motion(8), take_name="walk", ellipsoids=False)
    target = tmp_path / "walk.bvh"
    target.write_text("keep me")
    with pytest.raises(RuntimeError, match="exists"):
        bpy.ops.skelsplat.export(format="BVH", filepath=str(target))
    assert target.read_text() == "keep me"
    assert bpy.ops.skelsplat.export(format="BVH", filepath=str(target),
                                    overwrite=True) == {"FINISHED"}
    assert target.read_text().startswith("HIERARCHY")


@pytest.fixture
def registered():
    import skelsplat

    skelsplat.register()
    yield
    skelsplat.unregister()
