"""Bone-length and reach checks of triangulated joints (core.bone_check)."""

from __future__ import annotations

import numpy as np

from skelsplat.core.bone_check import check_bones, reach_limits
from skelsplat.core.fit.synthetic import random_motion
from skelsplat.core.metrics import typical_bone_lengths
from skelsplat.core.skeletons import get_joint_set

JS = get_joint_set("body_25")
BONES = JS.bone_indices


def implausible_joints(*args, **kwargs) -> np.ndarray:
    """The rejected joints of :func:`check_bones`."""
    return check_bones(*args, **kwargs)[0]


def _motion(F: int = 60, noise_m: float = 0.01, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return random_motion(F, rng=rng) + rng.normal(0, noise_m, (F, len(JS.joints), 3))


def test_typical_lengths_are_the_true_bone_lengths_despite_gross_errors():
    X = random_motion(50, rng=np.random.default_rng(1))
    truth = np.linalg.norm(X[0, BONES[:, 0]] - X[0, BONES[:, 1]], axis=-1)
    bad = X.copy()
    bad[::7, JS.index("left_wrist")] += [1.5, 0.0, 0.0]  # 8 of 50 frames far off
    L = typical_bone_lengths(bad, BONES)
    assert np.abs(L - truth).max() < 1e-9  # rigid bones: every frame has the true length
    trusted = np.ones(bad.shape[:2], bool)
    trusted[::7, JS.index("left_wrist")] = False
    assert np.abs(typical_bone_lengths(bad, BONES, trusted) - truth).max() < 1e-9
    few = np.full_like(X, np.nan)
    few[:2] = X[:2]
    assert np.isnan(typical_bone_lengths(few, BONES)).all()  # < 3 samples per bone


def test_reach_limits_sum_bone_lengths_along_the_skeleton():
    lengths = np.arange(1, len(BONES) + 1, dtype=float)
    D = reach_limits(BONES, lengths, len(JS.joints))
    i = {n: JS.index(n) for n in ("neck", "right_shoulder", "right_elbow", "right_wrist")}
    L = {tuple(sorted(b)): x for b, x in zip(BONES.tolist(), lengths)}
    path = [("neck", "right_shoulder"), ("right_shoulder", "right_elbow"),
            ("right_elbow", "right_wrist")]
    expected = sum(L[tuple(sorted((i[a], i[b])))] for a, b in path)
    assert D[i["neck"], i["right_wrist"]] == expected
    assert np.allclose(D, D.T) and np.all(np.diag(D) == 0)
    unknown = lengths.copy()
    unknown[:] = np.nan
    assert np.isnan(reach_limits(BONES, unknown, len(JS.joints))[0, 1:]).all()


def test_correct_joints_with_noise_are_kept():
    # measured over 5 x 200 frames: 5 mm noise per coordinate -> 0 rejected,
    # 10 mm -> 0.07 % (short face and foot bones: 40 mm is ~3 sigma of their length noise)
    for seed in range(3):
        X = _motion(F=200, noise_m=0.005, seed=seed)
        rej = implausible_joints(X, BONES, typical_bone_lengths(X, BONES),
                                 np.ones(X.shape[:2], bool))
        assert rej.sum() == 0
    X = _motion(F=200, noise_m=0.01, seed=4)
    rej = implausible_joints(X, BONES, typical_bone_lengths(X, BONES), np.ones(X.shape[:2], bool))
    assert rej.mean() < 0.002, rej.sum()


def test_a_joint_off_along_a_ray_is_rejected_and_its_neighbours_kept():
    X = _motion(noise_m=0.005, seed=2)
    L = typical_bone_lengths(X, BONES)
    elbow, wrist, shoulder = (JS.index(n) for n in ("right_elbow", "right_wrist",
                                                    "right_shoulder"))
    bad = X.copy()
    bad[10, elbow] += [0.0, 0.6, 0.2]  # two-view triangulation with one wrong view
    # 15 cm along the upper arm: both of the elbow's bones change length by > 25 %
    # (a shift across the bone changes its length little and cannot be seen this way)
    arm = X[20, elbow] - X[20, shoulder]
    bad[20, elbow] += 0.15 * arm / np.linalg.norm(arm)
    rej = implausible_joints(bad, BONES, L, np.ones(X.shape[:2], bool))
    assert rej[10, elbow] and rej[20, elbow]
    assert not rej[10, wrist] and not rej[10, shoulder] and not rej[20, wrist]
    assert rej.sum() == 2
    only_wrists = np.zeros(X.shape[:2], bool)
    only_wrists[:, wrist] = True  # the elbow is not a candidate: nothing else is blamed
    assert implausible_joints(bad, BONES, L, only_wrists).sum() == 0


def test_reach_decides_between_two_joints_joined_by_one_bone():
    # the big toe is 2 m off and its other neighbours are unknown: the ankle-toe bone alone
    # cannot tell which end is wrong, the reach to the knee, hips, other leg ... can
    X = _motion(noise_m=0.005, seed=3)
    L = typical_bone_lengths(X, BONES)
    toe, ankle = JS.index("right_big_toe"), JS.index("right_ankle")
    bad = X.copy()
    bad[5, toe] += [2.0, 0.0, 0.5]
    bad[5, [JS.index("right_small_toe"), JS.index("right_heel")]] = np.nan
    rej = implausible_joints(bad, BONES, L, np.ones(X.shape[:2], bool))
    assert rej[5, toe] and not rej[5, ankle] and rej.sum() == 1
    # an isolated joint (no neighbour known) is still caught by reach
    iso = bad.copy()
    iso[5, ankle] = np.nan
    rej = implausible_joints(iso, BONES, L, np.ones(X.shape[:2], bool))
    assert rej[5, toe] and rej.sum() == 1


def test_gross_errors_are_told_from_a_bone_merely_off():
    X = _motion(noise_m=0.005, seed=5)
    L = typical_bone_lengths(X, BONES)
    elbow, shoulder = JS.index("right_elbow"), JS.index("right_shoulder")
    bad = X.copy()
    bad[10, elbow] += [0.0, 0.6, 0.2]  # far off: out of reach of the neck, hips ...
    arm = X[20, elbow] - X[20, shoulder]
    bad[20, elbow] -= 0.1 * arm / np.linalg.norm(arm)  # upper arm 10 cm short: a bone off
    rejected, gross = check_bones(bad, BONES, L, np.ones(X.shape[:2], bool))
    assert rejected[10, elbow] and gross[10, elbow]
    assert rejected[20, elbow] and not gross[20, elbow]
    assert rejected.sum() == 2 and not (gross & ~rejected).any()
    # face bones (< 15 cm) only bound reach: an ear 5 cm closer to the eye is not judged
    # by its bone (unless asked); farther away than the bone reaches, it would be
    ear, eye = JS.index("right_ear"), JS.index("right_eye")
    face = X.copy()
    d = X[30, ear] - X[30, eye]
    face[30, ear] -= 0.05 * d / np.linalg.norm(d)
    assert not check_bones(face, BONES, L, np.ones(X.shape[:2], bool))[0].any()
    assert check_bones(face, BONES, L, np.ones(X.shape[:2], bool), min_bone_m=0.0)[0][30, ear]
