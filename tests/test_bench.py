"""Benchmark suite pieces that need no research data: ASF/AMC forward kinematics on a
hand-written skeleton, metrics on hand-computed cases, baselines on exact synthetic data,
corruption models."""

from __future__ import annotations

import numpy as np
import pytest

from skelsplat.core.bench import metrics as M
from skelsplat.core.bench.amc import (
    euler_matrix,
    forward_kinematics,
    read_amc,
    read_asf,
    resample,
)
from skelsplat.core.bench.baselines import (
    camera_exclusion,
    dlt,
    robust_lsq,
    subset_search,
    weighted_dlt,
)
from skelsplat.core.bench.corruption import Corruption, synthesize_detections
from skelsplat.core.bench.noise_calibration import load_noise_model
from skelsplat.core.bench.shelf import SHELF_LIMBS, body25_to_shelf15
from skelsplat.core.fit.synthetic import project_motion, random_motion, ring_rig
from skelsplat.core.skeletons import get_joint_set

ASF = """:version 1.10
:units
  mass 1.0
  length 0.45
  angle deg
:root
   order TX TY TZ RX RY RZ
   axis XYZ
   position 0 0 0
   orientation 0 0 0
:bonedata
  begin
     id 1
     name up
     direction 0 1 0
     length 2
     axis 0 0 0 XYZ
     dof rx ry rz
  end
  begin
     id 2
     name fore
     direction 0 1 0
     length 1
     axis 0 0 90 XYZ
     dof rx
  end
:hierarchy
  begin
    root up
    up fore
  end
"""

AMC = """:FULLY-SPECIFIED
:DEGREES
1
root 1 2 3 0 0 0
up 0 0 0
fore 0
2
root 1 2 3 0 0 0
up 0 0 90
fore 0
3
root 0 0 0 0 0 0
up 0 0 0
fore 90
"""


@pytest.fixture()
def toy(tmp_path):
    (tmp_path / "toy.asf").write_text(ASF)
    (tmp_path / "toy.amc").write_text(AMC)
    skel = read_asf(tmp_path / "toy.asf")
    return skel, read_amc(tmp_path / "toy.amc", skel)


def test_euler_matrix_order():
    Rx = euler_matrix([90.0], "X")
    np.testing.assert_allclose(Rx @ [0, 1, 0], [0, 0, 1], atol=1e-12)
    # "XZ": X applied first, then Z.
    R = euler_matrix([90.0, 90.0], "XZ")
    np.testing.assert_allclose(R @ [0, 1, 0], euler_matrix([90.0], "Z") @ [0, 0, 1], atol=1e-12)


def test_fk_toy_skeleton(toy):
    skel, amc = toy
    assert skel.order == ["up", "fore"] and skel.bones["fore"].parent == "up"
    p = forward_kinematics(skel, amc, scale=1.0)
    # Frame 0: rest pose, translated by the root.
    np.testing.assert_allclose(p["up"][0], [1, 4, 3], atol=1e-12)
    np.testing.assert_allclose(p["fore"][0], [1, 5, 3], atol=1e-12)
    # Frame 1: "up" rotated 90 deg about z: +y -> -x, the child follows.
    np.testing.assert_allclose(p["up"][1], [1 - 2, 2, 3], atol=1e-12)
    np.testing.assert_allclose(p["fore"][1], [1 - 3, 2, 3], atol=1e-12)
    # Frame 2: "fore" rotates 90 deg about its local x axis, which its ASF axis (z 90 deg)
    # maps to world +y: the rotation axis is along the bone itself, so its end stays put;
    # C M C^T = rotation of 90 deg about world y.
    np.testing.assert_allclose(p["fore"][2], [0, 3, 0], atol=1e-12)


def test_fk_bone_lengths_constant(toy):
    skel, amc = toy
    p = forward_kinematics(skel, amc, scale=0.5)
    L = np.linalg.norm(p["fore"] - p["up"], axis=1)
    np.testing.assert_allclose(L, 0.5, atol=1e-12)


def test_resample_120_to_30_takes_every_fourth_sample():
    x = np.arange(121, dtype=float)[:, None] ** 2
    y = resample(x, 120.0, 30.0)
    np.testing.assert_allclose(y[:, 0], x[::4, 0])
    z = resample(np.arange(5.0)[:, None], 120.0, 240.0)
    np.testing.assert_allclose(z[:, 0], np.arange(9) / 2)


# ----------------------------------------------------------------------------- metrics
def test_mpjpe_and_pa_mpjpe_hand_computed():
    rng = np.random.default_rng(0)
    gt = rng.normal(size=(4, 6, 3))
    pred = gt + np.array([0.003, 0.004, 0.0])  # 5 mm everywhere
    assert M.mpjpe(pred, gt) == pytest.approx(5.0)
    pred[0, 0] = np.nan  # missing entries are skipped
    assert M.mpjpe(pred, gt) == pytest.approx(5.0)
    assert M.coverage(pred, gt) == pytest.approx(23 / 24)
    pred[1, 2] += np.array([10.0, 0.0, 0.0])  # one gross failure moves the mean, not the median
    assert M.mpjpe(pred, gt) > 400
    assert M.median_error(pred, gt) == pytest.approx(5.0)
    # A rotated, scaled, translated copy has zero PA-MPJPE (but a large MPJPE).
    a = 0.7
    R = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
    moved = 1.3 * gt @ R.T + np.array([1.0, -2.0, 0.5])
    assert M.pa_mpjpe(moved, gt) < 1e-9
    assert M.mpjpe(moved, gt) > 100


def test_pck_accel_bone_std():
    gt = np.zeros((5, 2, 3))
    gt[:, 1, 0] = 1.0
    gt += np.arange(5)[:, None, None] * 0.01  # constant velocity
    pred = gt.copy()
    pred[:, 0, 1] += 0.06  # 60 mm off
    assert M.pck(pred, gt, 50) == pytest.approx(0.5)
    assert M.pck(pred, gt, 100) == pytest.approx(1.0)
    assert M.acceleration_error(pred, gt, 30.0) == pytest.approx(0.0, abs=1e-9)
    jitter = gt.copy()
    jitter[2, 0, 2] += 0.001  # a 1 mm spike at frame 2
    # a = (x[t+1] - 2 x[t] + x[t-1]) fps^2: |a| = 2e-3 x 900 once, 1e-3 x 900 twice,
    # averaged over 3 frames x 2 joints.
    assert M.acceleration_error(jitter, gt, 30.0) == pytest.approx((1.8 + 0.9 + 0.9) / 6)
    bones = np.array([[0, 1]])
    assert M.bone_length_std(gt, bones) == pytest.approx(0.0, abs=1e-9)


def test_pcp_toy():
    gt = np.zeros((2, 15, 3))
    gt[:, :, 2] = np.arange(15) * 0.1  # every limb (a, b) has a known length
    pred = gt.copy()
    a, b = SHELF_LIMBS["head"]  # joints 12, 13: length 0.1 m
    pred[0, a, 0] += 0.03
    pred[0, b, 0] += 0.06  # mean error 0.045 < 0.5 x length: correct
    pred[1, a, 0] += 0.04
    pred[1, b, 0] += 0.07  # mean 0.055 > 0.05: wrong
    out = M.pcp(pred, gt, SHELF_LIMBS)
    assert out["head"] == pytest.approx(0.5)
    assert out["torso"] == pytest.approx(1.0)
    assert out["average"] == pytest.approx((9 + 0.5) / 10)
    pred[:, 0] = np.nan  # missing prediction = wrong limb
    assert M.pcp(pred, gt, SHELF_LIMBS)["right_lower_leg"] == 0.0


def test_body25_to_shelf15_head_rule():
    X = np.zeros((25, 3))
    X[2], X[5] = [-0.2, 0, 1.5], [0.2, 0, 1.5]  # shoulders
    X[17], X[18] = [-0.07, 0, 1.7], [0.07, 0, 1.7]  # ears
    X[1], X[8] = [0, 0, 1.5], [0, 0, 1.0]  # neck, mid-hip
    S = body25_to_shelf15(X)
    np.testing.assert_allclose(S[12], [0, 0, 1.6], atol=1e-12)
    # facing = (neck - pelvis) x (right - left shoulder) = z x (-x) = -y
    np.testing.assert_allclose(S[13], [0, -0.125, 1.6 + 0.145], atol=1e-12)
    np.testing.assert_allclose(S[14], X[8])


# ----------------------------------------------------------------------------- baselines
@pytest.fixture(scope="module")
def exact_take():
    rig = ring_rig(4, distortion=0.05)
    gt = random_motion(30, "body_25", rng=np.random.default_rng(3))
    return rig, gt, project_motion(rig, gt)


@pytest.mark.parametrize("method", [dlt, weighted_dlt, camera_exclusion, subset_search])
def test_triangulation_baselines_recover_clean_data(exact_take, method):
    rig, gt, kp = exact_take
    X = method(kp, rig)
    assert M.coverage(X, gt) == 1.0
    assert M.mpjpe(X, gt) < 1e-3  # far below 1 mm


def test_robust_lsq_recovers_clean_data(exact_take):
    rig, gt, kp = exact_take
    # This synthetic motion sways every joint independently (bones are not rigid), so the
    # priors are off here; the rigid CMU case is tested in test_bench_data.py.
    X = robust_lsq(kp, rig, smooth_weight=0.0, length_weight=0.0)
    assert M.coverage(X, gt) == 1.0
    assert M.mpjpe(X, gt) < 1e-2


def test_robust_baselines_reject_a_gross_outlier(exact_take):
    rig, gt, kp = exact_take
    bad = kp.copy()
    bad[:, 1, :, :2] += 150.0  # view 1 is 150 px off for every joint
    assert M.mpjpe(dlt(bad, rig), gt) > 20
    assert M.mpjpe(camera_exclusion(bad, rig), gt) < 1e-3
    assert M.mpjpe(subset_search(bad, rig), gt) < 1e-3


def test_robust_lsq_beats_dlt_on_noise(exact_take):
    rig, gt, _ = exact_take
    model = load_noise_model()
    # i.i.d. noise: its temporal prior removes much of it (correlated noise it cannot)
    kp = synthesize_detections(gt, rig, "body_25", model, Corruption(temporal=False),
                               np.random.default_rng(1))
    e_dlt, e_lsq = M.mpjpe(dlt(kp, rig), gt), M.mpjpe(robust_lsq(kp, rig), gt)
    assert e_lsq < 0.8 * e_dlt


# ----------------------------------------------------------------------------- corruption
def test_corruption_rates_and_swaps(exact_take):
    rig, gt, kp = exact_take
    model = load_noise_model()
    rng = np.random.default_rng(0)
    gt_long = np.concatenate([gt] * 10)  # 300 frames
    exact = synthesize_detections(gt_long, rig, "body_25", model, Corruption(noise=0.0), rng)
    seen = exact[..., 2] > 0
    np.testing.assert_allclose(exact[:30], kp, atol=1e-9)  # noise 0 = exact projection
    occl = synthesize_detections(gt_long, rig, "body_25", model,
                                 Corruption(noise=0.0, occlusion=0.3), rng)
    rate = 1 - (occl[..., 2] > 0)[seen].mean()
    assert 0.25 < rate < 0.35
    out = synthesize_detections(gt_long, rig, "body_25", model,
                                Corruption(noise=0.0, outliers=0.15), rng)
    moved = np.linalg.norm(out[..., :2] - exact[..., :2], axis=-1)[(out[..., 2] > 0) & seen]
    assert 0.12 < (moved > 1e-6).mean() < 0.18
    flipped = synthesize_detections(gt, rig, "body_25", model,
                                    Corruption(noise=0.0, swaps=1.0), rng)
    perm = get_joint_set("body_25").flip_permutation()
    ok = (kp[..., 2] > 0) & (kp[:, :, perm, 2] > 0)
    np.testing.assert_allclose(flipped[..., :2][ok], kp[:, :, perm, :2][ok], atol=1e-9)


def test_realistic_noise_matches_model_scale(exact_take):
    rig, gt, kp = exact_take
    model = load_noise_model()
    noisy = synthesize_detections(np.concatenate([gt] * 20), rig, "body_25", model,
                                  Corruption(realistic_misses=False),
                                  np.random.default_rng(5))
    err = np.linalg.norm(noisy[..., :2] - np.concatenate([kp] * 20)[..., :2], axis=-1)
    both = (noisy[..., 2] > 0) & (np.concatenate([kp] * 20)[..., 2] > 0)
    depth = np.stack([c.depth(np.concatenate([gt] * 20)) for c in rig], 1)
    err_m = (err * depth / rig[0].fx)[both]
    # Median radial error of a 2D Gaussian is sigma * sqrt(2 ln 2); the tail lifts it a bit.
    sig = np.median([model["joints"][n]["sigma_m"] for n in get_joint_set("body_25").joints])
    expected = sig * np.sqrt(2 * np.log(2))
    assert 0.9 * expected < np.median(err_m) < 1.6 * expected
