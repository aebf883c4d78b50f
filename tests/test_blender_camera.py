"""OpenCV calibration -> Blender camera: lens, sensor fit, shift, resolution, placement.

The core twin (:func:`project_blender`) is checked without Blender; with headless bpy, points
projected through the created Blender cameras (``world_to_camera_view``) must land within
0.5 px of the core (undistorted) projection, for a synthetic rig with off-centre principal
points and for every calibration in ../shared/data.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from skelsplat.core.blender_camera import (
    blender_camera_settings,
    blender_matrix_world,
    opencv_extrinsics,
    project_blender,
)
from skelsplat.core.camera import Camera, Rig, rotation_from_rodrigues

TOL_PX = 0.5


def _ideal(cam: Camera) -> Camera:
    """The same camera without lens distortion (a Blender camera has none)."""
    return Camera(cam.name, cam.K, np.zeros_like(cam.dist), cam.R, cam.t, cam.size, cam.model)


def synthetic_rig() -> Rig:
    """Four cameras looking at the origin, principal points far from the image centre."""
    rng = np.random.default_rng(7)
    cams = []
    specs = [((1920, 1080), 1400.0, 1400.0, 1100.3, 480.7),
             ((1080, 1920), 1650.0, 1651.2, 500.0, 1010.0),
             ((640, 480), 520.0, 519.0, 300.5, 260.25),
             ((1024, 1024), 900.0, 900.0, 612.0, 411.0)]
    for i, (size, fx, fy, cx, cy) in enumerate(specs):
        R = rotation_from_rodrigues(rng.normal(size=3))
        centre = rng.normal(size=3) * 3
        K = np.array([[fx, 0, cx], [0, fy, cy], [0, 0, 1.0]])
        cams.append(Camera(f"c{i}", K, [0.01, -0.02, 0.001, 0.0, 0.0], R, -R @ centre, size))
    return Rig(cams, "synthetic")


def points_in_view(cam: Camera, n: int = 40, seed: int = 0) -> np.ndarray:
    """[n, 3] world points 1-8 m in front of ``cam`` and inside its image."""
    rng = np.random.default_rng(seed)
    w, h = cam.size
    uv = rng.uniform([0, 0], [w - 1, h - 1], size=(n, 2))
    depth = rng.uniform(1.0, 8.0, size=n)
    xy = (uv - [cam.cx, cam.cy]) / [cam.fx, cam.fy]
    local = np.concatenate([xy * depth[:, None], depth[:, None]], axis=1)
    return (local - cam.t) @ cam.R  # camera -> world


def shared_calibrations(root: Path) -> list[Path]:
    found = [*root.rglob("*.toml"), *root.rglob("*.qca.txt"), *root.rglob("calibration*.json")]
    return sorted(p for p in found if p.is_file())


def test_matrix_world_round_trip_and_axes() -> None:
    cam = synthetic_rig()[1]
    m = blender_matrix_world(cam.R, cam.t)
    np.testing.assert_allclose(m[:3, 3], cam.center, atol=1e-12)
    # Blender cameras look down local -Z: that is the OpenCV optical axis (third row of R).
    np.testing.assert_allclose(-m[:3, 2], cam.R[2], atol=1e-12)
    np.testing.assert_allclose(-m[:3, 1], cam.R[1], atol=1e-12)  # OpenCV y is down
    R, t = opencv_extrinsics(m)
    np.testing.assert_allclose(R, cam.R, atol=1e-12)
    np.testing.assert_allclose(t, cam.t, atol=1e-12)


@pytest.mark.parametrize("index", range(4))
def test_core_twin_matches_pinhole_projection(index: int) -> None:
    cam = synthetic_rig()[index]
    s = blender_camera_settings(cam)
    pts = points_in_view(cam)
    err = np.abs(project_blender(s, pts) - _ideal(cam).project(pts)).max()
    assert err < 1e-6
    assert s.resolution == cam.size
    assert s.lens == pytest.approx(cam.fx * 36.0 / cam.size[0])
    # The principal point is off centre, so the shift is not zero and matters.
    assert abs(s.shift_x) > 0.01 or abs(s.shift_y) > 0.01


def test_settings_in_another_scene_grid_warn() -> None:
    a, b = synthetic_rig()[0], synthetic_rig()[2]
    s = blender_camera_settings(b, resolution=a.size, pixel_aspect=(1.0, 1.0))
    assert any("scene is 1920x1080" in w for w in s.warnings)
    pts = points_in_view(b)
    # Expressed in the scene grid (same top-left origin), the view stays exact up to the
    # pixel aspect (fy/fx = 0.998 here: < 0.5 px over this 480 px tall image).
    assert np.abs(project_blender(s, pts) - _ideal(b).project(pts)).max() < TOL_PX


# ----------------------------------------------------------------------------- with bpy
def _blender_pixels(scene, obj, pts: np.ndarray) -> np.ndarray:
    from bpy_extras.object_utils import world_to_camera_view
    from mathutils import Vector

    w, h = scene.render.resolution_x, scene.render.resolution_y
    ndc = np.array([world_to_camera_view(scene, obj, Vector(p))[:] for p in pts])
    return np.stack([ndc[:, 0] * w - 0.5, (1.0 - ndc[:, 1]) * h - 0.5], axis=1)


def _check_rig(scene, rig: Rig) -> float:
    """Worst pixel error over every camera of ``rig``, each in its own scene settings."""
    import bpy

    from skelsplat.addon.capture import apply_camera, set_render_size

    worst = 0.0
    for cam in rig:
        obj = bpy.data.objects.new(cam.name, bpy.data.cameras.new(cam.name))
        scene.collection.objects.link(obj)
        apply_camera(obj, cam)
        set_render_size(scene, cam)
        pts = points_in_view(cam, seed=len(cam.name))
        got = _blender_pixels(scene, obj, pts)
        worst = max(worst, float(np.abs(got - _ideal(cam).project(pts)).max()))
    return worst


@pytest.mark.bpy
def test_blender_cameras_match_synthetic_rig(empty_scene) -> None:
    assert _check_rig(empty_scene, synthetic_rig()) < TOL_PX


@pytest.mark.bpy
def test_blender_cameras_match_every_shared_calibration(empty_scene, shared_data) -> None:
    from skelsplat.core.calibration import read_calibration

    paths = shared_calibrations(shared_data)
    assert len(paths) >= 5, paths
    worst = {}
    for path in paths:
        worst[path.name] = _check_rig(empty_scene, read_calibration(path))
    assert max(worst.values()) < TOL_PX, worst


@pytest.mark.bpy
def test_build_scene_pose2sim_demo(empty_scene, shared_data) -> None:
    """Cameras, footage clips with offsets, fps and frame range of the bundled demo take."""
    import bpy

    from skelsplat.addon.capture import build_scene
    from skelsplat.core.calibration import read_calibration

    demo = shared_data / "pose2sim_demo"
    rig = read_calibration(demo / "calibration" / "Calib_converted.toml")
    cap = build_scene(rig, demo / "videos", take_name="demo", frame_start=1,
                      offsets={"cam_02": 3})
    assert list(cap.cameras) == ["cam_01", "cam_02", "cam_03", "cam_04"]
    assert cap.collection.name == "demo cameras"
    assert len(cap.collection.objects) == 4
    assert empty_scene.render.fps / empty_scene.render.fps_base == pytest.approx(60.0)
    # cam_02 starts 3 frames later, so the take covers 97 common frames.
    assert (empty_scene.frame_start, empty_scene.frame_end) == (1, 97)
    assert cap.clips["cam_02"].frame_start == 1 - 3
    assert cap.clips["cam_01"].frame_start == 1
    bg = cap.cameras["cam_01"].data.background_images[0]
    assert bg.source == "MOVIE_CLIP" and bg.clip == cap.clips["cam_01"]
    assert bg.clip_user.use_render_undistorted
    assert any("1080x1920" in w for w in cap.warnings)  # encoder crop of cam01/cam02
    # Every camera projects like its (size-reconciled) calibration in the scene's pixel grid.
    for cam in cap.rig:
        pts = points_in_view(cam, seed=3)
        err = np.abs(_blender_pixels(empty_scene, cap.cameras[cam.name], pts)
                     - _ideal(cam).project(pts)).max()
        assert err < TOL_PX, (cam.name, err)
    assert bpy.context.scene.camera == cap.cameras["cam_01"]
    # An explicit camera -> video mapping wins over name matching (here: swapped on purpose).
    videos = {"cam_01": demo / "videos" / "cam02.mp4", "cam_02": demo / "videos" / "cam01.mp4",
              "cam_03": demo / "videos" / "cam03.mp4", "cam_04": demo / "videos" / "cam04.mp4"}
    again = build_scene(rig, videos, take_name="swapped")
    assert bpy.path.basename(again.clips["cam_01"].filepath) == "cam02.mp4"
