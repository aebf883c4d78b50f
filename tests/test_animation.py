"""The rigid animation (numpy only): take skeleton, orientations, contacts, foot lock, floor."""

from __future__ import annotations

import numpy as np
import pytest

from skelsplat.core.animation import AnimationOptions, animate
from skelsplat.core.armature import (
    forward_kinematics,
    plan_rig,
    solve_pose,
    take_skeleton,
)
from skelsplat.core.contacts import precision_recall
from skelsplat.core.motion import Motion3D
from skelsplat.core.orientation import blender_roll_zero_frame, kabsch, swing
from skelsplat.core.skeletons import CANONICAL_JOINTS

FPS = 30.0
THIGH, SHIN, ANKLE_H = 0.45, 0.45, 0.08


def _two_bone(hip: np.ndarray, ankle: np.ndarray) -> np.ndarray:
    """[F, 3] knee reaching ``ankle`` from ``hip``, bending forward (-Y)."""
    d = ankle - hip
    dist = np.linalg.norm(d, axis=-1, keepdims=True)
    u = d / dist
    pole = np.array([0.0, -1.0, 0.0])
    v = pole - (u @ pole)[:, None] * u
    v /= np.linalg.norm(v, axis=-1, keepdims=True)
    cos_a = (THIGH**2 + dist**2 - SHIN**2) / (2 * THIGH * dist)
    return hip + THIGH * (cos_a * u + np.sqrt(1 - cos_a**2) * v)


def synthetic_walk(n_frames: int = 150, seed: int = 0, noise_m: float = 0.003):
    """A canonical walk (facing -Y, Z up, floor at Z = 0) with known contacts.

    Each foot stands still for 60 % of a 1 s gait cycle (heel and toe on the floor) and
    swings forward 0.6 m, lifted by up to 10 cm, for the rest. Noise: Gaussian, smoothed over
    5 frames (correlated), ``noise_m`` per coordinate.

    Returns:
        joints [F, 31, 3], contacts {"left", "right"} -> [F] bool.
    """
    t = np.arange(n_frames) / FPS
    names = list(CANONICAL_JOINTS)
    X = np.zeros((n_frames, len(names), 3))
    step, stance = 0.6, 0.6
    pelvis = np.stack([np.zeros_like(t), -step * t, 0.9 + 0.015 * np.cos(4 * np.pi * t)], 1)
    contacts = {}
    for side, sign, phase0 in (("left", 1.0, 0.0), ("right", -1.0, 0.5)):
        cyc = t + phase0
        k, phi = np.floor(cyc), cyc - np.floor(cyc)
        planted = phi < stance
        base = -step * (k + 0.5 * stance) + step * phase0  # stance foot y
        s = np.clip((phi - stance) / (1 - stance), 0, 1)
        s = s * s * (3 - 2 * s)
        y = np.where(planted, base, base - step * s)
        z = np.where(planted, 0.0, 0.10 * np.sin(np.pi * s))
        ankle = np.stack([np.full_like(t, sign * 0.1), y, ANKLE_H + z], 1)
        hip = pelvis + np.array([sign * 0.1, 0, 0])
        X[:, names.index(f"{side}_hip")] = hip
        X[:, names.index(f"{side}_ankle")] = ankle
        X[:, names.index(f"{side}_knee")] = _two_bone(hip, ankle)
        X[:, names.index(f"{side}_heel")] = ankle + np.array([0, 0.05, -0.06])
        X[:, names.index(f"{side}_toe")] = ankle + np.array([0, -0.15, -0.06])
        contacts[side] = planted
    neck = pelvis + np.array([0, 0, 0.5])
    X[:, names.index("pelvis")] = pelvis
    X[:, names.index("neck")] = neck
    offsets = {"head": [0, 0, 0.2], "head_top": [0, 0, 0.32], "nose": [0, -0.1, 0.18],
               "left_eye": [0.03, -0.08, 0.22], "right_eye": [-0.03, -0.08, 0.22],
               "left_ear": [0.07, 0, 0.2], "right_ear": [-0.07, 0, 0.2]}
    for n, o in offsets.items():
        X[:, names.index(n)] = neck + o
    for side, sign in (("left", 1.0), ("right", -1.0)):
        angle = 0.5 * np.sin(2 * np.pi * t + (0 if sign > 0 else np.pi))  # arm swing
        down = np.stack([np.zeros_like(t), np.sin(angle), -np.cos(angle)], 1)
        sh = neck + np.array([sign * 0.18, 0, 0])
        el = sh + 0.28 * down
        wr = el + 0.25 * down
        for n, p in ((f"{side}_shoulder", sh), (f"{side}_elbow", el), (f"{side}_wrist", wr),
                     (f"{side}_index", wr + np.array([0, -0.03, -0.08])),
                     (f"{side}_pinky", wr + np.array([0, 0.03, -0.07])),
                     (f"{side}_thumb", wr + np.array([0, -0.05, -0.03]))):
            X[:, names.index(n)] = p
    rng = np.random.default_rng(seed)
    e = rng.normal(size=(n_frames + 4, *X.shape[1:])) * noise_m * np.sqrt(5)
    X = X + np.stack([e[i:i + n_frames] for i in range(5)]).mean(0)
    return X, contacts


def _motion(X: np.ndarray, fps: float = FPS) -> Motion3D:
    return Motion3D(X, list(CANONICAL_JOINTS), np.ones(X.shape[:2], bool), fps=fps)


def test_walk_contacts_found_and_locked_feet_stay_put() -> None:
    X, truth = synthetic_walk()
    anim = animate(_motion(X))
    names = anim.joint_names
    for side in ("left", "right"):
        precision, recall = precision_recall(anim.contacts[side].contact, truth[side])
        # Measured: left 0.96 / 0.96, right 0.96 / 0.95; locked points move < 1e-9 m.
        assert precision >= 0.9 and recall >= 0.9, (side, precision, recall)
        fc = anim.contacts[side]
        for k, n in enumerate(fc.points):
            p = anim.joints[:, names.index(n)]
            both = fc.planted[1:, k] & fc.planted[:-1, k]
            step = np.linalg.norm(p[1:] - p[:-1], axis=-1)[both]
            assert both.sum() > 20
            assert step.max() < 1e-3, (n, step.max())  # metres: under 1 mm, every frame
    m = anim.metrics
    assert m.foot_skate_mm < 0.1 and m.bone_std_mm < 1e-6
    # Planted points stand at their run's height but never below the floor: measured 0.0 mm
    # (1.6 mm when a run below the floor kept its height).
    assert m.penetration_mean_mm < 0.1


def test_rigid_armature_keeps_lengths_and_follows_the_fit() -> None:
    X, _ = synthetic_walk(90, noise_m=0.0)
    anim = animate(_motion(X), AnimationOptions(lock_feet=False, floor="keep"))
    plan, P = anim.plan, anim.joints
    heads = P[:, plan.layout.head_joint]
    kids = np.flatnonzero(plan.parents >= 0)
    d = np.linalg.norm(heads[:, kids] - heads[:, plan.parents[kids]], axis=-1)
    rest = np.linalg.norm(plan.heads[kids] - plan.heads[plan.parents[kids]], axis=-1)
    np.testing.assert_allclose(d, np.broadcast_to(rest, d.shape), atol=1e-9)
    # The synthetic body is rigid: the armature reproduces it (noise-free, keep the world).
    assert anim.metrics.residual_mean_mm < 1.0
    np.testing.assert_allclose(anim.alignment, np.eye(4))


def test_take_skeleton_is_a_robust_median_and_accepts_given_lengths() -> None:
    X, _ = synthetic_walk(60, noise_m=0.0)
    names = list(CANONICAL_JOINTS)
    hip, knee = names.index("left_hip"), names.index("left_knee")
    X[7, knee] += [0.0, 0.0, 0.3]  # one wild frame does not move a median
    valid = np.ones(X.shape[:2], bool)
    sk = take_skeleton(X, valid, names)
    assert sk.lengths[("left_hip", "left_knee")] == pytest.approx(THIGH, abs=1e-9)
    assert sk.support[("left_hip", "left_knee")] == 60
    valid[:, knee] = False
    valid[:30, knee] = True
    X[40:, knee] = np.nan  # invalid frames never count
    assert take_skeleton(X, valid, names).support[("left_hip", "left_knee")] == 30
    given = take_skeleton(X, valid, names, lengths={("left_hip", "left_knee"): 0.5})
    assert given.lengths[("left_hip", "left_knee")] == 0.5
    assert np.isfinite(X[:, hip]).all()


def _across(v: np.ndarray, axis: np.ndarray) -> np.ndarray:
    """Unit part of v [F, 3] perpendicular to unit ``axis`` [F, 3]."""
    v = v - np.sum(v * axis, -1, keepdims=True) * axis
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def test_palm_normal_matches_ground_truth_within_ten_degrees() -> None:
    """Noise-free frames whose hands turn: the hand bone's palm normal is the truth's."""
    X, _ = synthetic_walk(40, noise_m=0.0)
    names = list(CANONICAL_JOINTS)
    rng = np.random.default_rng(2)
    for side in ("left", "right"):
        w = names.index(f"{side}_wrist")
        for f in range(len(X)):
            axis = rng.normal(size=3)
            R = swing(np.array([0, 0, 1.0]), np.array([0, 0, 1.0]) + 0.8 * axis / np.linalg.norm(
                axis))
            for n in ("index", "pinky", "thumb"):
                j = names.index(f"{side}_{n}")
                X[f, j] = X[f, w] + R @ (X[f, j] - X[f, w])
    sk = take_skeleton(X, np.ones(X.shape[:2], bool), names)
    plan = plan_rig(sk, names)
    pose = solve_pose(plan, X)
    for side in ("left", "right"):
        b = plan.bone_names.index(f"{side}_wrist")
        rest_normal = plan.cluster_rest[f"{side}_wrist"][:, 2]
        got = np.einsum("fij,j->fi", pose.rotations[:, b], rest_normal)
        i, p, w = (X[:, names.index(f"{side}_{n}")] for n in ("index", "pinky", "wrist"))
        truth = np.cross((i + p) / 2 - w, i - p)
        truth /= np.linalg.norm(truth, axis=-1, keepdims=True)
        angle = np.degrees(np.arccos(np.clip(np.sum(got * truth, -1), -1, 1)))
        assert angle.max() < 10.0, (side, angle.max())  # measured: < 1e-5 degrees
        # Forearm twist follows the hand: about the forearm, the elbow bone turns the rest
        # palm normal to where the palm faces.
        e = plan.bone_names.index(f"{side}_elbow")
        axis = w - X[:, names.index(f"{side}_elbow")]
        axis /= np.linalg.norm(axis, axis=-1, keepdims=True)

        forearm = _across(np.einsum("fij,j->fi", pose.rotations[:, e], rest_normal), axis)
        twist_err = np.degrees(np.arccos(np.clip(np.sum(forearm * _across(got, axis), -1),
                                                 -1, 1)))
        assert twist_err.max() < 1.0


def test_missing_points_are_listed_as_undetermined() -> None:
    X, _ = synthetic_walk(30, noise_m=0.0)
    names = list(CANONICAL_JOINTS)
    keep = [n for n in names if not n.endswith(("_index", "_pinky", "_thumb", "_eye", "_ear"))
            and n != "nose"]
    Xk = X[:, [names.index(n) for n in keep]]
    sk = take_skeleton(Xk, np.ones(Xk.shape[:2], bool), keep)
    plan = plan_rig(sk, keep)
    text = " ".join(plan.undetermined)
    assert "left_wrist" in text and "right_wrist" in text and "head" in text
    assert "ankle" not in text  # heel + toe turn the feet
    full = plan_rig(take_skeleton(X, np.ones(X.shape[:2], bool), names), names)
    assert full.undetermined == []


def test_floor_alignment_puts_a_tilted_take_on_z0() -> None:
    X, _ = synthetic_walk(120, noise_m=0.0)
    tilt = swing(np.array([0, 0, 1.0]), np.array([0.2, 0.1, 1.0]))
    Xw = X @ tilt.T + [1.0, -2.0, 0.7]
    anim = animate(_motion(Xw))
    up = anim.alignment[:3, :3] @ tilt @ np.array([0, 0, 1.0])
    assert np.degrees(np.arccos(up[2])) < 1.0
    toe = anim.joints[:, anim.joint_names.index("left_toe")]
    planted = anim.contacts["left"].contact
    assert np.abs(np.median(toe[planted, 2])) < 0.005  # the planted toe stands on Z = 0
    kept = animate(_motion(Xw), AnimationOptions(floor="keep"))
    np.testing.assert_allclose(kept.alignment, np.eye(4))
    assert kept.metrics.foot_skate_mm == pytest.approx(anim.metrics.foot_skate_mm, abs=0.05)


def test_a_pose_and_blender_rolls() -> None:
    X, _ = synthetic_walk(30, noise_m=0.0)
    names = list(CANONICAL_JOINTS)
    sk = take_skeleton(X, np.ones(X.shape[:2], bool), names)
    t_plan, a_plan = plan_rig(sk, names, "T"), plan_rig(sk, names, "A")
    e = t_plan.joint_names.index("left_elbow")
    s = t_plan.joint_names.index("left_shoulder")
    d_t = t_plan.joint_rest[e] - t_plan.joint_rest[s]
    d_a = a_plan.joint_rest[e] - a_plan.joint_rest[s]
    assert d_t[2] == pytest.approx(0.0, abs=1e-9) and d_t[0] > 0
    assert np.degrees(np.arctan2(-d_a[2], d_a[0])) == pytest.approx(45.0, abs=1e-6)
    assert t_plan.joint_rest[:, 2].min() == pytest.approx(0.0)  # feet on the floor
    # Roll 0: mirrored bones have mirrored frames (x flips sign of its y, z components).
    for plan in (t_plan, a_plan):
        for b, name in enumerate(plan.bone_names):
            if name.startswith("left_"):
                r = plan.bone_names.index("right_" + name[5:])
                M = np.diag([-1.0, 1, 1])
                np.testing.assert_allclose(plan.frames[r], M @ plan.frames[b] @ M, atol=1e-9)
    # The Blender formula: +Y turned onto the bone by the smallest rotation.
    d = np.array([0.3, -0.2, 0.9])
    np.testing.assert_allclose(blender_roll_zero_frame(d), swing(np.array([0, 1.0, 0]), d),
                               atol=1e-12)
    np.testing.assert_allclose(blender_roll_zero_frame(np.array([0, -1.0, 0])),
                               np.diag([-1.0, -1, 1]))


def test_kabsch_recovers_a_rotation() -> None:
    rng = np.random.default_rng(0)
    rest = rng.normal(size=(4, 3))
    R = swing(np.array([1.0, 0, 0]), rng.normal(size=(5, 3)))
    got, ok = kabsch(rest, np.einsum("fij,kj->fki", R, rest))
    assert ok.all()
    np.testing.assert_allclose(got, R, atol=1e-10)
    _, ok = kabsch(np.array([[1.0, 0, 0], [2.0, 0, 0]]), np.zeros((1, 2, 3)))
    assert not ok.any()


def test_forward_kinematics_matches_the_solve() -> None:
    X, _ = synthetic_walk(20)
    names = list(CANONICAL_JOINTS)
    plan = plan_rig(take_skeleton(X, np.ones(X.shape[:2], bool), names), names)
    pose = solve_pose(plan, X)
    P = forward_kinematics(plan, pose)
    np.testing.assert_allclose(P[:, 0], X[:, 0])
    R = pose.rotations
    np.testing.assert_allclose(R @ np.swapaxes(R, -1, -2), np.broadcast_to(np.eye(3), R.shape),
                               atol=1e-9)


def test_joints_never_seen_with_their_parent_are_left_out() -> None:
    X, _ = synthetic_walk(40, noise_m=0.0)
    names = list(CANONICAL_JOINTS)
    valid = np.ones(X.shape[:2], bool)
    valid[:20, names.index("left_hip")] = False
    valid[20:, names.index("left_knee")] = False
    anim = animate(Motion3D(X, names, valid, fps=FPS))
    assert "left_knee" not in anim.joint_names and "left_hip" in anim.joint_names
    ankle = anim.plan.bone_names.index("left_ankle")
    assert anim.plan.bone_names[anim.plan.parents[ankle]] == "left_hip"


def test_frames_to_nearest_contact_matches_brute_force():
    from skelsplat.core.contacts import frames_to_nearest

    rng = np.random.default_rng(3)
    for _ in range(50):
        flags = rng.random(int(rng.integers(1, 80))) < 0.2
        flags[int(rng.integers(len(flags)))] = True
        idx = np.flatnonzero(flags)
        brute = np.abs(np.arange(len(flags))[:, None] - idx[None, :]).min(1)
        assert np.array_equal(frames_to_nearest(flags), brute)
