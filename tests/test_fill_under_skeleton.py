"""Joints the fit left undetermined, placed under the skeleton (core/fit/fill.py)."""

from __future__ import annotations

import numpy as np

from skelsplat.core.fit.fill import fill_under_skeleton, sphere_directions
from skelsplat.core.fit.skeleton import Skeleton, bone_tree
from skelsplat.core.fit.synthetic import project_motion, random_motion, ring_rig
from skelsplat.core.keypoints import get_joint_set


def _take(n_frames: int = 12):
    rig = ring_rig(4)
    X = random_motion(n_frames, rng=np.random.default_rng(5))  # [F, 25, 3] BODY_25
    kp = np.moveaxis(project_motion(rig, X), 1, 2).copy()  # [F, J, V, 3]
    js = get_joint_set("body25")
    _, bones = bone_tree(js)
    lengths = np.linalg.norm(X[0, bones[:, 1]] - X[0, bones[:, 0]], axis=-1)
    sk = Skeleton(js.name, bones, [f"{p}-{c}" for p, c in bones], lengths, "test")
    return rig, X, kp, js, bones, sk


def test_sphere_directions_are_unit_and_even():
    d = sphere_directions(2000)
    assert np.allclose(np.linalg.norm(d, axis=1), 1.0)
    nearest = np.sort(d @ d.T, axis=1)[:, -2]  # cosine to the nearest other direction
    assert np.degrees(np.arccos(nearest)).max() < 5.5


def test_undetermined_joints_land_at_bone_length_near_truth():
    rig, X, kp, js, bones, sk = _take()
    names = list(js.joints)
    wrist, elbow = names.index("left_wrist"), names.index("left_elbow")
    pelvis = names.index("mid_hip")
    kp[..., :2] += np.random.default_rng(2).normal(0, 2.0, kp[..., :2].shape)
    kp[:, wrist, 3, :2] += 60.0  # one view 85 px off: a robust fit must not follow it
    joints = X.copy()
    valid = np.ones(X.shape[:2], dtype=bool)
    joints[:, wrist] = np.nan
    valid[:, wrist] = False
    joints[:4, pelvis] = np.nan  # a missing root is reached from a child
    valid[:4, pelvis] = False
    kp[6:, wrist, 0, 2] = kp[6:, wrist, 3, 2] = 0.0  # frames 6+: two views (filled) ...
    kp[9:, wrist, 2, 2] = 0.0  # ... frames 9+: one view left (not filled)
    filled = fill_under_skeleton(joints, valid, kp, rig, sk, scale_px=15.0)
    assert filled[:9, wrist].all() and not filled[9:, wrist].any()
    assert filled[:4, pelvis].all() and filled.sum() == 13
    assert np.isnan(joints[9:, wrist]).all() and not valid[9:, wrist].any()
    bone = next(i for i, (p, c) in enumerate(bones) if (p, c) == (elbow, wrist))
    got = np.linalg.norm(joints[:9, wrist] - joints[:9, elbow], axis=-1)
    assert np.allclose(got, sk.lengths_m[bone], atol=1e-9)
    err_mm = np.linalg.norm(joints[filled] - X[filled], axis=-1) * 1000
    assert err_mm.max() < 15.0, err_mm  # 2 px noise, one view 85 px off


def test_temporal_prior_resists_a_wrong_view_of_two():
    """Two views detect the joint, one of them 85 px off: the detections alone cannot say
    which is right; the bone's direction in the neighbouring frames can."""
    rig, X, kp, js, _bones, sk = _take()
    names = list(js.joints)
    wrist = names.index("left_wrist")
    kp[4:8, wrist, 0, 2] = kp[4:8, wrist, 1, 2] = 0.0  # views 2 and 3 left ...
    kp[4:8, wrist, 3, :2] += 60.0  # ... and view 3 is 85 px off
    errs = {}
    for weight in (0.0, 10.0):
        joints, valid = X.copy(), np.ones(X.shape[:2], dtype=bool)
        joints[4:8, wrist] = np.nan
        valid[4:8, wrist] = False
        filled = fill_under_skeleton(joints, valid, kp, rig, sk, 15.0, prior_weight=weight)
        assert filled.sum() == 4 and filled[4:8, wrist].all()
        errs[weight] = np.linalg.norm(joints[4:8, wrist] - X[4:8, wrist], axis=-1) * 1000
    assert errs[0.0].mean() > 80 and errs[10.0].max() < 30, errs  # measured 114 -> 19 mm


def test_face_off_the_skeleton_is_filled_at_its_typical_distance():
    """COCO-17's face is not linked to its body: the skeleton does not reach the ears. An ear
    the fit left undetermined is placed from its eye at the take's median eye-ear distance."""
    from skelsplat.core.fit.fill import off_skeleton_links

    rig = ring_rig(4)
    body = random_motion(12, rng=np.random.default_rng(5))  # [F, 25, 3] BODY_25
    coco = get_joint_set("coco_17")
    X = body[:, [list(get_joint_set("body25").joints).index(n) for n in coco.joints]]
    kp = np.moveaxis(project_motion(rig, X), 1, 2).copy()  # [F, J, V, 3]
    kp[..., :2] += np.random.default_rng(3).normal(0, 2.0, kp[..., :2].shape)
    _, bones = bone_tree(coco)
    names = list(coco.joints)
    ear, eye = names.index("right_ear"), names.index("right_eye")
    assert ear not in bones  # the skeleton does not reach the face
    lengths = np.linalg.norm(X[0, bones[:, 1]] - X[0, bones[:, 0]], axis=-1)
    sk = Skeleton(coco.name, bones, [f"{p}-{c}" for p, c in bones], lengths, "test")
    joints, valid = X.copy(), np.ones(X.shape[:2], dtype=bool)
    joints[:2, ear] = np.nan
    valid[:2, ear] = False

    assert fill_under_skeleton(joints.copy(), valid.copy(), kp, rig, sk, 15.0).sum() == 0
    links = off_skeleton_links(coco.bone_indices, sk, joints, valid)
    assert len(links) == 5  # eye-eye, nose-eyes, eyes-ears (not shoulder-shoulder: on it)
    typical = next(L for a, b, L in links if {a, b} == {eye, ear})
    true = np.linalg.norm(X[:, ear] - X[:, eye], axis=-1)
    assert typical == np.median(true[2:])
    fewer = off_skeleton_links(coco.bone_indices, sk, joints, valid, min_frames=11)
    assert len(fewer) == 4 and all(ear not in (a, b) for a, b, _ in fewer)  # 10 frames

    filled = fill_under_skeleton(joints, valid, kp, rig, sk, 15.0, extra_links=links)
    assert filled[:2, ear].all() and filled.sum() == 2 and valid.all()
    got = np.linalg.norm(joints[:2, ear] - joints[:2, eye], axis=-1)
    assert np.allclose(got, typical, atol=1e-9)
    err_mm = np.linalg.norm(joints[:2, ear] - X[:2, ear], axis=-1) * 1000
    assert err_mm.max() < 15.0, err_mm
