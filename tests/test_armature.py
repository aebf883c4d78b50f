"""Armature maths for baking (numpy only): rest plan, pose matrices, keys, ellipsoids."""

from __future__ import annotations

import numpy as np
import pytest

from skelsplat.core.armature import (
    TEMPLATE_DIRECTIONS,
    basis_from_pose,
    continuous_quaternions,
    ellipsoid_transforms,
    fill_gaps,
    forward_kinematics,
    plan_rig,
    pose_matrices,
    quaternion_from_matrix,
    solve_pose,
    take_skeleton,
)
from skelsplat.core.camera import rotation_from_rodrigues
from skelsplat.core.errors import SkelsplatError
from skelsplat.core.skeletons import CANONICAL_JOINTS, CANONICAL_PARENTS

SEGMENTS = {"hip": 0.1, "knee": 0.42, "ankle": 0.4, "heel": 0.06, "toe": 0.15,
            "shoulder": 0.18, "elbow": 0.28, "wrist": 0.25, "neck": 0.5, "head": 0.2,
            "head_top": 0.12, "nose": 0.1, "eye": 0.09, "ear": 0.08, "index": 0.09,
            "pinky": 0.08, "thumb": 0.05}


def synthetic_joints(n_frames: int = 24, seed: int = 0) -> np.ndarray:
    """[F, 31, 3] a moving canonical skeleton with exact segment lengths (metres); point
    clusters (face, hands, feet) are not rigid."""
    rng = np.random.default_rng(seed)
    t = np.arange(n_frames) / 30.0
    X = np.zeros((n_frames, len(CANONICAL_JOINTS), 3))
    for j, name in enumerate(CANONICAL_JOINTS):
        parent = CANONICAL_PARENTS[name]
        if parent is None:
            X[:, j] = np.stack([0.5 * t, 0.1 * np.sin(t), 1.0 + 0.02 * np.sin(3 * t)], 1)
            continue
        d = (TEMPLATE_DIRECTIONS[name] + 0.4 * np.sin(2 * t + j)[:, None] * [0.3, 0.5, 0.2]
             + 0.25 * rng.normal(size=3))
        d /= np.linalg.norm(d, axis=1, keepdims=True)
        seg = SEGMENTS[name.removeprefix("left_").removeprefix("right_")]
        X[:, j] = X[:, CANONICAL_JOINTS.index(parent)] + d * seg
    return X


def _compose(rest, parents, locations, quats):
    """Blender's pose evaluation: pose = parent_pose @ (B_p^-1 B) @ basis."""
    from scipy.spatial.transform import Rotation

    F, J = locations.shape[:2]
    basis = np.tile(np.eye(4), (F, J, 1, 1))
    basis[..., :3, :3] = Rotation.from_quat(quats[..., [1, 2, 3, 0]].reshape(-1, 4)
                                            ).as_matrix().reshape(F, J, 3, 3)
    basis[..., :3, 3] = locations
    pose = np.zeros_like(basis)
    for j, p in enumerate(parents):
        local = rest[j] if p < 0 else np.linalg.inv(rest[p]) @ rest[j]
        pose[:, j] = (local if p < 0 else pose[:, p] @ local) @ basis[:, j]
    return pose


def test_fill_gaps_interpolates_and_holds_ends() -> None:
    x = np.arange(6, dtype=float)[:, None, None] * np.ones((6, 2, 3))
    valid = np.ones((6, 2), bool)
    valid[[0, 2, 3], 0] = False
    valid[:, 1] = False
    out = fill_gaps(x, valid)
    np.testing.assert_allclose(out[:, 0, 0], [1, 1, 2, 3, 4, 5])
    assert np.isnan(out[:, 1]).all()


def _plan(X, names=None):
    names = list(names or CANONICAL_JOINTS)
    valid = np.isfinite(X).all(-1)
    return plan_rig(take_skeleton(X, valid, names), [n for j, n in enumerate(names)
                                                     if valid[:, j].any()])


def test_plan_uses_median_lengths_and_a_t_pose() -> None:
    X = synthetic_joints()
    plan = _plan(X)
    assert plan.joint_names == list(CANONICAL_JOINTS)
    assert {"spine", "left_clavicle", "right_clavicle"} <= set(plan.bone_names)
    k = plan.joint_names.index("left_knee")
    hip = plan.joint_names.index("left_hip")
    # T-pose: knee straight below the hip at the median length, left arm along +X.
    np.testing.assert_allclose(plan.joint_rest[k] - plan.joint_rest[hip], [0, 0, -0.42],
                               atol=1e-12)
    e = plan.joint_names.index("left_elbow")
    s = plan.joint_names.index("left_shoulder")
    np.testing.assert_allclose(plan.joint_rest[e] - plan.joint_rest[s], [0.28, 0, 0],
                               atol=1e-12)
    for R in plan.frames:
        np.testing.assert_allclose(R @ R.T, np.eye(3), atol=1e-12)
        assert np.linalg.det(R) == pytest.approx(1.0)


def test_joints_missing_everywhere_are_left_out_and_children_reparented() -> None:
    X = synthetic_joints()
    X[:, CANONICAL_JOINTS.index("left_knee")] = np.nan
    plan = _plan(X)
    assert "left_knee" not in plan.joint_names
    ankle = plan.bone_names.index("left_ankle")
    assert plan.bone_names[plan.parents[ankle]] == "left_hip"
    X[:, 0] = np.nan
    with pytest.raises(SkelsplatError, match="pelvis"):
        _plan(X)


def test_keys_reproduce_the_rigid_pose() -> None:
    X = synthetic_joints(30)
    plan = _plan(X)
    rest = plan.rest_matrices()
    rig_pose = solve_pose(plan, X)
    pose = pose_matrices(plan, rig_pose)
    P = forward_kinematics(plan, rig_pose)
    np.testing.assert_allclose(P[:, 0], X[:, 0], atol=1e-12)  # the root is on the fit
    rots = pose[..., :3, :3]
    np.testing.assert_allclose(rots @ np.swapaxes(rots, -1, -2), np.broadcast_to(
        np.eye(3), rots.shape), atol=1e-9)
    locations, quats = basis_from_pose(rest, plan.parents, pose)
    np.testing.assert_allclose(locations[:, 1:], 0.0, atol=1e-9)  # only the root moves
    np.testing.assert_allclose(_compose(rest, plan.parents, locations, quats), pose, atol=1e-9)
    # A bone with one target aims at the fitted target from its (rigid) head (a cluster's
    # head joint, e.g. the wrist, is aimed at where all the cluster's points put it).
    for b, tg in enumerate(plan.layout.targets):
        if len(tg) == 1 and plan.bone_names[b] not in plan.layout.rules and \
                plan.joint_names[tg[0]] not in plan.cluster_rest:
            h = plan.layout.head_joint[b]
            d = X[:, tg[0]] - P[:, h]
            d /= np.linalg.norm(d, axis=-1, keepdims=True)
            got = P[:, tg[0]] - P[:, h]
            got /= np.linalg.norm(got, axis=-1, keepdims=True)
            np.testing.assert_allclose(got, d, atol=1e-9)


def test_quaternions_match_rotations_and_stay_continuous() -> None:
    from scipy.spatial.transform import Rotation

    rng = np.random.default_rng(3)
    R = np.stack([rotation_from_rodrigues(v) for v in rng.normal(size=(50, 3)) * 2])
    q = quaternion_from_matrix(R)
    np.testing.assert_allclose(Rotation.from_quat(q[:, [1, 2, 3, 0]]).as_matrix(), R, atol=1e-9)
    flipped = q * np.where(np.arange(50) % 2, -1, 1)[:, None]
    steady = continuous_quaternions(flipped)
    assert (np.sum(steady[1:] * steady[:-1], axis=-1) >= 0).all()


def test_ellipsoid_transforms_reproduce_covariances() -> None:
    rng = np.random.default_rng(5)
    A = rng.normal(size=(8, 4, 3, 3)) * 0.02
    cov = A @ np.swapaxes(A, -1, -2) + 1e-6 * np.eye(3)
    quats, scales = ellipsoid_transforms(cov, sigma=2.0)
    from scipy.spatial.transform import Rotation

    R = Rotation.from_quat(quats.reshape(-1, 4)[:, [1, 2, 3, 0]]).as_matrix().reshape(8, 4, 3, 3)
    M = R * scales[..., None, :]
    np.testing.assert_allclose(M @ np.swapaxes(M, -1, -2), 4.0 * cov, atol=1e-12)


def test_degenerate_poses_stay_finite_and_rigid() -> None:
    """Coincident joints and a hip line along the spine must not break the solve."""
    X = synthetic_joints(6)
    names = list(CANONICAL_JOINTS)
    X[2, names.index("neck")] = X[2, names.index("pelvis")]  # zero-length spine
    X[3, names.index("left_hip")] = X[3, 0] + (X[3, names.index("neck")] - X[3, 0]) * 0.1
    X[3, names.index("right_hip")] = X[3, 0] - (X[3, names.index("neck")] - X[3, 0]) * 0.1
    plan = _plan(synthetic_joints(6))
    rig_pose = solve_pose(plan, X)
    pose = pose_matrices(plan, rig_pose)
    assert np.isfinite(pose).all()
    np.testing.assert_allclose(np.linalg.det(pose[..., :3, :3]), 1.0, atol=1e-9)
    P = forward_kinematics(plan, rig_pose)
    heads = P[:, plan.layout.head_joint]
    kids = np.flatnonzero(plan.parents >= 0)
    d = np.linalg.norm(heads[:, kids] - heads[:, plan.parents[kids]], axis=-1)
    rest = np.linalg.norm(plan.heads[kids] - plan.heads[plan.parents[kids]], axis=-1)
    np.testing.assert_allclose(d, np.broadcast_to(rest, d.shape), atol=1e-9)
