"""Pinhole cameras with OpenCV lens distortion, and ordered camera rigs.

Conventions (used everywhere in SkelSplat):
- World units are metres. ``x_cam = R @ X + t`` (world to camera), OpenCV camera axes
  (x right, y down, z forward).
- Pixel coordinates: (u, v) with the origin at the centre of the top-left pixel's corner
  as in OpenCV; ``K = [[fx, 0, cx], [0, fy, cy], [0, 0, 1]]`` (skew 0).
- Distortion: ``pinhole`` uses OpenCV's (k1, k2, p1, p2, k3); ``fisheye`` uses OpenCV's
  equidistant model (k1, k2, k3, k4).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np

from .errors import CalibrationError

CameraModel = str  # "pinhole" | "fisheye"
#: Lens models a camera may have.
LENS_MODELS = ("pinhole", "fisheye")


@dataclass(frozen=True, eq=False)
class Camera:
    """One calibrated camera.

    Attributes:
        name: camera name as in the calibration file.
        K: [3, 3] intrinsics in pixels (skew must be 0).
        dist: [5] (k1, k2, p1, p2, k3) for ``pinhole``; [4] (k1..k4) for ``fisheye``.
        R: [3, 3] world-to-camera rotation (orthonormal, det +1).
        t: [3] world-to-camera translation in metres.
        size: (width, height) of the image in pixels.
        model: ``"pinhole"`` or ``"fisheye"``.
    """

    name: str
    K: np.ndarray
    dist: np.ndarray
    R: np.ndarray
    t: np.ndarray
    size: tuple[int, int]
    model: CameraModel = "pinhole"
    _cache: dict = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        where = f"camera {self.name!r}"
        K = _as_float(self.K, (3, 3), f"{where}: intrinsic matrix K")
        R = _as_float(self.R, (3, 3), f"{where}: rotation R")
        t = _as_float(self.t, (3,), f"{where}: translation t").reshape(3)
        if self.model not in LENS_MODELS:
            raise CalibrationError(f"{where}: unknown camera model {self.model!r}; "
                                   f"expected one of {LENS_MODELS}")
        n_dist = 5 if self.model == "pinhole" else 4
        dist = np.zeros(n_dist)
        raw = np.asarray(self.dist, dtype=float).ravel()
        if raw.size > n_dist or not np.all(np.isfinite(raw)):
            raise CalibrationError(f"{where}: distortion must be at most {n_dist} finite "
                                   f"coefficients for the {self.model} model, got {raw.tolist()}")
        dist[: raw.size] = raw
        if K[0, 0] <= 0 or K[1, 1] <= 0:
            raise CalibrationError(f"{where}: focal lengths must be positive, got "
                                   f"fx={K[0, 0]:g}, fy={K[1, 1]:g}")
        if abs(K[0, 1]) > 1e-9 * K[0, 0] or np.any(np.abs(K[2] - [0, 0, 1]) > 1e-9):
            raise CalibrationError(f"{where}: K must be [[fx,0,cx],[0,fy,cy],[0,0,1]] "
                                   f"(zero skew), got {K.tolist()}")
        ortho = np.abs(R @ R.T - np.eye(3)).max()
        if ortho > 1e-5 or np.linalg.det(R) < 0:
            raise CalibrationError(f"{where}: rotation is not orthonormal with det +1 "
                                   f"(max |R R^T - I| = {ortho:.2e}, det = {np.linalg.det(R):.4f})")
        try:
            w, h = (int(s) for s in self.size)
        except (TypeError, ValueError):
            raise CalibrationError(f"{where}: image size must be (width, height), "
                                   f"got {self.size!r}") from None
        if w <= 0 or h <= 0:
            raise CalibrationError(f"{where}: image size must be positive, got {w}x{h}")
        object.__setattr__(self, "K", K)
        object.__setattr__(self, "R", R)
        object.__setattr__(self, "t", t)
        object.__setattr__(self, "dist", dist)
        object.__setattr__(self, "size", (w, h))
        object.__setattr__(self, "name", str(self.name))

    # ----------------------------------------------------------------- basic geometry
    @property
    def fx(self) -> float:
        return float(self.K[0, 0])

    @property
    def fy(self) -> float:
        return float(self.K[1, 1])

    @property
    def cx(self) -> float:
        return float(self.K[0, 2])

    @property
    def cy(self) -> float:
        return float(self.K[1, 2])

    @property
    def center(self) -> np.ndarray:
        """[3] camera centre in world coordinates (metres)."""
        return -self.R.T @ self.t

    @property
    def world_to_cam(self) -> np.ndarray:
        """[4, 4] homogeneous world-to-camera transform."""
        m = np.eye(4)
        m[:3, :3] = self.R
        m[:3, 3] = self.t
        return m

    @property
    def projection_matrix(self) -> np.ndarray:
        """[3, 4] ``K [R | t]`` for undistorted pixel coordinates."""
        return self.K @ np.hstack([self.R, self.t[:, None]])

    @property
    def has_distortion(self) -> bool:
        return bool(np.any(self.dist != 0))

    def to_camera(self, points: np.ndarray) -> np.ndarray:
        """World points [..., 3] -> camera-frame points [..., 3]."""
        return np.asarray(points, dtype=float) @ self.R.T + self.t

    # ----------------------------------------------------------------- distortion
    def distort_normalized(self, xy: np.ndarray) -> np.ndarray:
        """Apply lens distortion to ideal normalised coordinates [..., 2] (z = 1 plane)."""
        xy = np.asarray(xy, dtype=float)
        x, y = xy[..., 0], xy[..., 1]
        if self.model == "fisheye":
            k1, k2, k3, k4 = self.dist
            r = np.hypot(x, y)
            theta = np.arctan(r)
            th2 = theta * theta
            theta_d = theta * (1 + th2 * (k1 + th2 * (k2 + th2 * (k3 + th2 * k4))))
            scale = np.where(r > 1e-12, theta_d / np.maximum(r, 1e-12), 1.0)
            return xy * scale[..., None]
        k1, k2, p1, p2, k3 = self.dist
        r2 = x * x + y * y
        radial = 1 + r2 * (k1 + r2 * (k2 + r2 * k3))
        xd = x * radial + 2 * p1 * x * y + p2 * (r2 + 2 * x * x)
        yd = y * radial + p1 * (r2 + 2 * y * y) + 2 * p2 * x * y
        return np.stack([xd, yd], axis=-1)

    def undistort_normalized(self, xy_d: np.ndarray, iterations: int = 50) -> np.ndarray:
        """Invert :meth:`distort_normalized` with Newton's method.

        Args:
            xy_d: [..., 2] distorted normalised coordinates.
        Returns:
            [..., 2] ideal normalised coordinates. Converges for strong distortion
            (|k1| ~ 0.5 at the image corners) where OpenCV's fixed-point loop drifts.
        """
        xy_d = np.asarray(xy_d, dtype=float)
        if not self.has_distortion:
            return xy_d.copy()
        xy = xy_d.copy()
        hx, hy = np.array([1e-7, 0.0]), np.array([0.0, 1e-7])
        for _ in range(iterations):
            f = self.distort_normalized(xy) - xy_d
            if np.nanmax(np.abs(f), initial=0.0) < 1e-13:
                break
            jx = (self.distort_normalized(xy + hx) - self.distort_normalized(xy - hx)) / 2e-7
            jy = (self.distort_normalized(xy + hy) - self.distort_normalized(xy - hy)) / 2e-7
            a, c = jx[..., 0], jx[..., 1]
            b, d = jy[..., 0], jy[..., 1]
            det = a * d - b * c
            det = np.where(np.abs(det) < 1e-12, 1e-12, det)
            dx = (d * f[..., 0] - b * f[..., 1]) / det
            dy = (-c * f[..., 0] + a * f[..., 1]) / det
            step = np.stack([dx, dy], axis=-1)
            # Damp huge steps (far outside the valid distortion range).
            norm = np.linalg.norm(step, axis=-1, keepdims=True)
            step = np.where(norm > 0.5, step * (0.5 / np.maximum(norm, 1e-12)), step)
            xy = xy - step
        return xy

    # ----------------------------------------------------------------- projection
    def project(self, points: np.ndarray) -> np.ndarray:
        """Project world points [..., 3] (metres) to distorted pixels [..., 2].

        Points at or behind the camera plane (z <= 1e-9) give NaN.
        """
        pc = self.to_camera(points)
        z = pc[..., 2]
        with np.errstate(divide="ignore", invalid="ignore"):
            xy = pc[..., :2] / np.where(z > 1e-9, z, np.nan)[..., None]
        xy = self.distort_normalized(xy)
        return self.normalized_to_pixels(xy)

    def depth(self, points: np.ndarray) -> np.ndarray:
        """Camera-frame depth z [...] of world points [..., 3]."""
        return self.to_camera(points)[..., 2]

    def normalized_to_pixels(self, xy: np.ndarray) -> np.ndarray:
        """Normalised coordinates [..., 2] -> pixels [..., 2] through K."""
        xy = np.asarray(xy, dtype=float)
        return np.stack([self.fx * xy[..., 0] + self.cx, self.fy * xy[..., 1] + self.cy], -1)

    def pixels_to_normalized(self, uv: np.ndarray) -> np.ndarray:
        """Pixels [..., 2] -> normalised coordinates [..., 2] through K^-1 (no undistortion)."""
        uv = np.asarray(uv, dtype=float)
        return np.stack([(uv[..., 0] - self.cx) / self.fx, (uv[..., 1] - self.cy) / self.fy], -1)

    def undistort_points(self, uv: np.ndarray) -> np.ndarray:
        """Distorted pixels [..., 2] -> ideal (undistorted) pixels [..., 2], same K."""
        xy = self.undistort_normalized(self.pixels_to_normalized(uv))
        return self.normalized_to_pixels(xy)

    def rays(self, uv: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Back-project distorted pixels [..., 2] to world rays.

        Returns:
            origins [..., 3] (the camera centre) and unit directions [..., 3].
        """
        xy = self.undistort_normalized(self.pixels_to_normalized(uv))
        d_cam = np.concatenate([xy, np.ones((*xy.shape[:-1], 1))], axis=-1)
        d = d_cam @ self.R  # R^T d for row vectors
        d /= np.linalg.norm(d, axis=-1, keepdims=True)
        return np.broadcast_to(self.center, d.shape).copy(), d

    def in_image(self, uv: np.ndarray, margin: float = 0.0) -> np.ndarray:
        """Boolean [...] mask: pixel inside the image (with ``margin`` pixels of slack)."""
        uv = np.asarray(uv, dtype=float)
        w, h = self.size
        return ((uv[..., 0] >= -margin) & (uv[..., 0] <= w + margin)
                & (uv[..., 1] >= -margin) & (uv[..., 1] <= h + margin))

    def with_name(self, name: str) -> Camera:
        return Camera(name, self.K, self.dist, self.R, self.t, self.size, self.model)

    def allclose(self, other: Camera, atol_px: float = 1e-9, atol_m: float = 1e-9) -> bool:
        """Same model, size, intrinsics, distortion, rotation and translation within tolerances."""
        return (self.model == other.model and self.size == other.size
                and np.allclose(self.K, other.K, atol=atol_px, rtol=0)
                and np.allclose(self.dist, other.dist, atol=1e-12, rtol=1e-9)
                and np.allclose(self.R, other.R, atol=1e-9, rtol=0)
                and np.allclose(self.t, other.t, atol=atol_m, rtol=0))


class Rig:
    """An ordered set of uniquely named cameras (order = the view axis V everywhere)."""

    def __init__(self, cameras: Sequence[Camera], source: str = "") -> None:
        cams = list(cameras)
        names = [c.name for c in cams]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise CalibrationError(f"{source or 'rig'}: duplicate camera names {dup}")
        if not cams:
            raise CalibrationError(f"{source or 'rig'}: no cameras")
        self.cameras: list[Camera] = cams
        self.source = source

    def __len__(self) -> int:
        return len(self.cameras)

    def __iter__(self) -> Iterator[Camera]:
        return iter(self.cameras)

    def __getitem__(self, key: int | str) -> Camera:
        if isinstance(key, str):
            for c in self.cameras:
                if c.name == key:
                    return c
            raise KeyError(f"no camera named {key!r} in {self.source or 'rig'} "
                           f"(cameras: {self.names})")
        return self.cameras[key]

    def __repr__(self) -> str:
        return f"Rig({self.names}, source={self.source!r})"

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.cameras]

    def subset(self, names_or_indices: Sequence[str | int]) -> Rig:
        """A rig of the named (or indexed) cameras, in the given order."""
        return Rig([self[k] for k in names_or_indices], self.source)

    @property
    def K(self) -> np.ndarray:
        """[V, 3, 3] intrinsics."""
        return np.stack([c.K for c in self.cameras])

    @property
    def R(self) -> np.ndarray:
        """[V, 3, 3] world-to-camera rotations."""
        return np.stack([c.R for c in self.cameras])

    @property
    def t(self) -> np.ndarray:
        """[V, 3] world-to-camera translations (metres)."""
        return np.stack([c.t for c in self.cameras])

    @property
    def centers(self) -> np.ndarray:
        """[V, 3] camera centres in world coordinates (metres)."""
        return np.stack([c.center for c in self.cameras])

    @property
    def world_to_cams(self) -> np.ndarray:
        """[V, 4, 4] every camera's world -> camera transform."""
        return np.stack([c.world_to_cam for c in self.cameras])

    @property
    def projection_matrices(self) -> np.ndarray:
        """[V, 3, 4] ``K [R | t]`` for undistorted pixels."""
        return np.stack([c.projection_matrix for c in self.cameras])

    @property
    def sizes(self) -> np.ndarray:
        """[V, 2] (width, height) in pixels."""
        return np.array([c.size for c in self.cameras], dtype=int)

    def baselines(self) -> np.ndarray:
        """[V, V] distances between camera centres (metres)."""
        c = self.centers
        return np.linalg.norm(c[:, None] - c[None], axis=-1)

    @property
    def scale(self) -> float:
        """A characteristic rig size in metres: the median pairwise baseline (1.0 for 1 camera)."""
        if len(self) < 2:
            return 1.0
        b = self.baselines()[np.triu_indices(len(self), 1)]
        return float(np.median(b))

    def project(self, points: np.ndarray) -> np.ndarray:
        """Project world points [..., 3] into every camera -> [..., V, 2] distorted pixels."""
        return np.stack([c.project(points) for c in self.cameras], axis=-2)

    def undistort_points(self, uv: np.ndarray) -> np.ndarray:
        """Distorted pixels [..., V, 2] -> ideal pixels [..., V, 2], camera by camera."""
        uv = np.asarray(uv, dtype=float)
        if uv.shape[-2] != len(self):
            raise ValueError(f"expected {len(self)} views on axis -2, got shape {uv.shape}")
        return np.stack([c.undistort_points(uv[..., i, :]) for i, c in enumerate(self.cameras)],
                        axis=-2)

    def allclose(self, other: Rig, atol_px: float = 1e-9, atol_m: float = 1e-9) -> bool:
        return (self.names == other.names
                and all(a.allclose(b, atol_px, atol_m) for a, b in zip(self, other)))


def rotation_from_rodrigues(rvec: np.ndarray) -> np.ndarray:
    """Axis-angle vector [3] (radians) -> rotation matrix [3, 3]."""
    r = np.asarray(rvec, dtype=float).reshape(3)
    theta = np.linalg.norm(r)
    if theta < 1e-15:
        return np.eye(3)
    k = r / theta
    kx = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return np.eye(3) + np.sin(theta) * kx + (1 - np.cos(theta)) * (kx @ kx)


def rodrigues_from_rotation(R: np.ndarray) -> np.ndarray:
    """Rotation matrix [3, 3] -> axis-angle vector [3] (radians), accurate to ~1e-15
    for every angle (the angle comes from atan2, never from arccos near 0 or pi)."""
    R = np.asarray(R, dtype=float)
    w = np.array([R[2, 1] - R[1, 2], R[0, 2] - R[2, 0], R[1, 0] - R[0, 1]])  # 2 sin(theta) k
    sin = np.linalg.norm(w) / 2
    cos = (np.trace(R) - 1) / 2
    theta = float(np.arctan2(sin, cos))
    if theta < 1e-8:
        return w / 2
    if cos > -0.5:  # theta < 120 degrees: the antisymmetric part is well conditioned
        return w * (theta / (2 * sin))
    # Near pi: the axis from the symmetric part, (R + R^T) / 2 - cos I = (1 - cos) k k^T.
    kk = ((R + R.T) / 2 - cos * np.eye(3)) / (1 - cos)
    i = int(np.argmax(np.diag(kk)))
    axis = kk[:, i] / np.sqrt(max(kk[i, i], 1e-300))
    axis /= np.linalg.norm(axis)
    if np.dot(w, axis) < 0:
        axis = -axis
    return axis * theta


def _as_float(value: object, shape: tuple[int, ...], what: str) -> np.ndarray:
    try:
        arr = np.array(value, dtype=float)
    except (TypeError, ValueError):
        raise CalibrationError(
            f"{what}: expected numbers of shape {shape}, got {value!r}") from None
    if arr.size != int(np.prod(shape)):
        raise CalibrationError(f"{what}: expected shape {shape}, got {arr.shape}")
    arr = arr.reshape(shape)
    if not np.all(np.isfinite(arr)):
        raise CalibrationError(f"{what}: contains NaN or infinite values")
    return arr
