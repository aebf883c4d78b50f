"""Camera model: projection against OpenCV, undistortion, rays, Rodrigues, validation."""

from __future__ import annotations

import numpy as np
import pytest
from io_synthetic import ring_rig

from skelsplat.core.camera import (
    Camera,
    Rig,
    rodrigues_from_rotation,
    rotation_from_rodrigues,
)
from skelsplat.core.errors import CalibrationError

cv2 = pytest.importorskip("cv2")


def _points(n: int = 200, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.uniform([-1, -1, 0], [1, 1, 2], size=(n, 3))


def test_projection_matches_opencv_pinhole() -> None:
    rig = ring_rig(4)
    X = _points()
    for cam in rig:
        ours = cam.project(X)
        ref, _ = cv2.projectPoints(X, rodrigues_from_rotation(cam.R), cam.t, cam.K, cam.dist)
        np.testing.assert_allclose(ours, ref[:, 0], atol=1e-6)


def test_projection_matches_opencv_fisheye() -> None:
    base = ring_rig(1)[0]
    cam = Camera("fish", base.K, [0.05, -0.02, 0.004, -0.001], base.R, base.t, base.size,
                 "fisheye")
    X = _points()
    ours = cam.project(X)
    ref, _ = cv2.fisheye.projectPoints(X[None], rodrigues_from_rotation(cam.R), cam.t, cam.K,
                                       cam.dist)
    np.testing.assert_allclose(ours, ref[0], atol=1e-6)
    np.testing.assert_allclose(cam.undistort_normalized(cam.distort_normalized(
        cam.pixels_to_normalized(ours) * 0.5)), cam.pixels_to_normalized(ours) * 0.5, atol=1e-10)


def test_undistortion_inverts_strong_distortion_at_the_corners() -> None:
    base = ring_rig(1)[0]
    cam = Camera("strong", base.K, [-0.35, 0.12, 0.001, -0.001, 0.0], base.R, base.t,
                 base.size)
    w, h = cam.size
    u, v = np.meshgrid(np.linspace(0, w, 17), np.linspace(0, h, 9))
    uv = np.stack([u, v], -1).reshape(-1, 2)
    ideal = cam.undistort_points(uv)
    back = cam.normalized_to_pixels(cam.distort_normalized(cam.pixels_to_normalized(ideal)))
    assert np.abs(back - uv).max() < 1e-6                     # px, corners included
    crit = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 100, 1e-12)
    ref = cv2.undistortPointsIter(uv[:, None], cam.K, cam.dist, None, cam.K, crit)
    centre = np.linalg.norm(uv - [w / 2, h / 2], axis=1) < 0.35 * w
    np.testing.assert_allclose(ideal[centre], ref[centre, 0], atol=1e-3)


def test_rays_pass_through_the_points() -> None:
    rig = ring_rig(3)
    X = _points(50)
    for cam in rig:
        o, d = cam.rays(cam.project(X))
        along = np.sum((X - o) * d, axis=1)
        closest = o + along[:, None] * d
        assert np.abs(closest - X).max() < 1e-9
        np.testing.assert_allclose(o[0], cam.center)


def test_rig_helpers() -> None:
    rig = ring_rig(4, radius=4.0)
    assert rig.K.shape == (4, 3, 3) and rig.projection_matrices.shape == (4, 3, 4)
    side = 4.0 * np.sqrt(2)                                   # neighbours on a circle of 4 m
    assert rig.baselines()[0, 1] == pytest.approx(side, abs=1e-12)
    assert rig.scale == pytest.approx(side, abs=1e-12)
    X = _points(7)
    assert rig.project(X).shape == (7, 4, 2)
    assert rig.subset(["cam03", 0]).names == ["cam03", "cam01"]
    with pytest.raises(CalibrationError, match="duplicate"):
        Rig([rig[0], rig[0]])


@pytest.mark.parametrize("theta", [0.0, 1e-10, 1e-3, 1.0, 2.5, np.pi - 1e-3, np.pi - 1e-9,
                                   np.pi])
def test_rodrigues_round_trip_at_every_angle(theta: float) -> None:
    rng = np.random.default_rng(int(theta * 1000))
    for _ in range(20):
        k = rng.normal(size=3)
        k /= np.linalg.norm(k)
        R = rotation_from_rodrigues(k * theta)
        R2 = rotation_from_rodrigues(rodrigues_from_rotation(R))
        assert np.abs(R - R2).max() < 5e-15
        ref, _ = cv2.Rodrigues(k * theta)
        np.testing.assert_allclose(R, ref, atol=1e-12)


@pytest.mark.parametrize("change, message", [
    ({"K": [[-5, 0, 1], [0, 5, 1], [0, 0, 1]]}, "focal lengths must be positive"),
    ({"K": [[5, 1, 1], [0, 5, 1], [0, 0, 1]]}, "zero skew"),
    ({"R": np.diag([1.0, 1.0, 2.0])}, "not orthonormal"),
    ({"R": np.diag([1.0, 1.0, -1.0])}, "det"),
    ({"t": [1, 2]}, "translation"),
    ({"size": (0, 10)}, "image size must be positive"),
    ({"dist": [0.1] * 6}, "at most 5"),
    ({"dist": [np.nan]}, "finite"),
    ({"model": "kb8"}, "unknown camera model"),
])
def test_invalid_cameras_are_rejected_with_a_clear_message(change: dict, message: str) -> None:
    kw = dict(name="bad", K=np.diag([800.0, 800.0, 1.0]), dist=np.zeros(5), R=np.eye(3),
              t=np.zeros(3), size=(640, 480))
    kw.update(change)
    with pytest.raises(CalibrationError, match=message) as info:
        Camera(**kw)
    assert "camera 'bad'" in str(info.value)
