"""OpenCV camera <-> Blender camera settings, as plain numpy (no ``bpy``).

Blender's camera looks down its local -Z with +Y up; OpenCV's looks down +Z with +Y down, so
the camera-frame axis change is ``diag(1, -1, -1)``. The calibration's world frame is used as
Blender's world frame unchanged (metres).

Intrinsics map onto a horizontal sensor fit: ``sensor_width`` spans the image width, so
``lens = fx * sensor_width / width`` for any aspect ratio. Blender's lens shift is measured in
units of the fitted dimension (the width here). Pixel convention (OpenCV): the centre of the
top-left pixel is (0, 0), so the image spans [-0.5, w - 0.5] and its centre is (w - 1) / 2.
Blender has one resolution and one pixel aspect per scene: every camera is expressed in the
scene's pixel grid, and :func:`blender_camera_settings` warns where that is not exact. Lens
distortion has no place in a Blender camera; it is kept for the movie-clip background (see
``addon/capture.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .camera import Camera

#: OpenCV camera axes -> Blender camera axes (x right, y up, z backwards).
CV_TO_BLENDER_CAM = np.diag([1.0, -1.0, -1.0])

#: Default sensor width (mm); any value works, 36 mm keeps focal lengths familiar.
SENSOR_WIDTH_MM = 36.0


@dataclass(frozen=True)
class BlenderCameraSettings:
    """Everything a Blender camera needs to reproduce one calibrated camera.

    Attributes:
        lens: focal length in mm (``Camera.data.lens``).
        sensor_width: sensor width in mm with ``sensor_fit = 'HORIZONTAL'``.
        shift_x, shift_y: lens shift in units of the image width.
        resolution: (width, height) in pixels.
        pixel_aspect: (x, y) scene pixel aspect making ``fy / fx`` exact.
        matrix_world: [4, 4] camera-to-world transform of the Blender camera object.
        warnings: what could not be represented exactly.
    """

    lens: float
    sensor_width: float
    shift_x: float
    shift_y: float
    resolution: tuple[int, int]
    pixel_aspect: tuple[float, float]
    matrix_world: np.ndarray
    warnings: list[str] = field(default_factory=list)


def blender_matrix_world(R: np.ndarray, t: np.ndarray) -> np.ndarray:
    """OpenCV world-to-camera ``R`` [3, 3], ``t`` [3] -> Blender camera ``matrix_world`` [4, 4]."""
    R = np.asarray(R, dtype=float)
    t = np.asarray(t, dtype=float).reshape(3)
    m = np.eye(4)
    m[:3, :3] = R.T @ CV_TO_BLENDER_CAM
    m[:3, 3] = -R.T @ t
    return m


def opencv_extrinsics(matrix_world: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Inverse of :func:`blender_matrix_world`: [4, 4] -> (R [3, 3], t [3]) world-to-camera."""
    m = np.asarray(matrix_world, dtype=float)
    rot = m[:3, :3]
    scale = np.linalg.norm(rot, axis=0)
    R = (rot / scale @ CV_TO_BLENDER_CAM).T
    return R, -R @ m[:3, 3]


def blender_camera_settings(camera: Camera, resolution: tuple[int, int] | None = None,
                            pixel_aspect: tuple[float, float] | None = None,
                            sensor_width: float = SENSOR_WIDTH_MM) -> BlenderCameraSettings:
    """Blender lens, sensor, shift, resolution and placement of one calibrated camera.

    Args:
        camera: the calibrated camera.
        resolution: the scene's (width, height) in px; default the camera's own size. Blender
            has one resolution per scene, so other cameras are expressed in its pixel grid
            (same top-left origin; a warning names cameras whose size differs).
        pixel_aspect: the scene's (x, y) pixel aspect; default the one making this camera's
            ``fy / fx`` exact.
    """
    w, h = resolution or camera.size
    warnings: list[str] = []
    if (w, h) != tuple(camera.size):
        warnings.append(f"camera {camera.name!r} is {camera.size[0]}x{camera.size[1]} px but the "
                        f"scene is {w}x{h} px; its view is exact, its footage is scaled to fit")
    if pixel_aspect is None:
        # Blender scales y by aspect_x / aspect_y relative to x; fx is kept exact.
        ratio = camera.fy / camera.fx
        pixel_aspect = (1.0, 1.0 / ratio) if ratio < 1 else (ratio, 1.0)
    ratio = pixel_aspect[0] / pixel_aspect[1]  # the scene's fy / fx
    if abs(ratio * camera.fx / camera.fy - 1.0) > 2e-3:
        warnings.append(f"camera {camera.name!r}: fy/fx = {camera.fy / camera.fx:.4f} differs "
                        f"from the scene pixel aspect ({ratio:.4f}); vertical error up to "
                        f"{abs(ratio * camera.fx - camera.fy) * h / (2 * camera.fy):.1f} px")
    lens = camera.fx * sensor_width / w
    shift_x = (w / 2.0 - (camera.cx + 0.5)) / w
    # Blender scales the vertical shift by the pixel aspect (fy / fx) like the focal length.
    shift_y = ((camera.cy + 0.5) - h / 2.0) / (w * ratio)
    return BlenderCameraSettings(
        lens=float(lens), sensor_width=float(sensor_width), shift_x=float(shift_x),
        shift_y=float(shift_y), resolution=(int(w), int(h)),
        pixel_aspect=(float(pixel_aspect[0]), float(pixel_aspect[1])),
        matrix_world=blender_matrix_world(camera.R, camera.t), warnings=warnings)


def project_blender(settings: BlenderCameraSettings, points: np.ndarray) -> np.ndarray:
    """Pixels (OpenCV convention) where a Blender camera with ``settings`` sees ``points``.

    The twin of Blender's own projection (used by tests against ``world_to_camera_view``).

    Args:
        points: [..., 3] world points (metres).

    Returns:
        [..., 2] (u, v) pixels, no distortion; NaN behind the camera.
    """
    w, h = settings.resolution
    m = settings.matrix_world
    local = (np.asarray(points, dtype=float) - m[:3, 3]) @ m[:3, :3]  # Blender camera frame
    depth = -local[..., 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        x = local[..., 0] / depth
        y = local[..., 1] / depth
    f_px = settings.lens / settings.sensor_width * w
    ax, ay = settings.pixel_aspect
    ratio = ax / ay  # fy / fx
    u = w / 2.0 - 0.5 + f_px * x - settings.shift_x * w
    v = h / 2.0 - 0.5 - f_px * ratio * y + settings.shift_y * w * ratio
    uv = np.stack([u, v], axis=-1)
    uv[depth <= 0] = np.nan
    return uv
