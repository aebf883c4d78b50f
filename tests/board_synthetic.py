"""Synthetic board footage for calibration tests: a known rig, a board moving through it,
images rendered with lens distortion, blur and noise.

Rendering: every output pixel is back-projected through the camera's distortion (exact
inverse, :meth:`Camera.undistort_normalized`) to a ray, the ray meets the board plane,
and the printed board image is sampled there (``cv2.remap``), at 2x supersampling averaged
down (no aliasing of the small squares). Then a Gaussian blur and pixel noise.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from skelsplat.core.calibration.board import WORLD_FROM_BOARD, BoardSpec
from skelsplat.core.camera import Camera, Rig, rotation_from_rodrigues

SUPERSAMPLE = 2


def look_at(name: str, eye: np.ndarray, target: np.ndarray, size: tuple[int, int], f: float,
            dist: np.ndarray, model: str = "pinhole", pp_offset=(0.0, 0.0)) -> Camera:
    """A camera at ``eye`` looking at ``target`` with world Z up."""
    z = target - eye
    z = z / np.linalg.norm(z)
    x = np.cross(z, [0.0, 0.0, 1.0])
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    R = np.stack([x, y, z])
    w, h = size
    K = np.array([[f, 0, w / 2 - 0.5 + pp_offset[0]], [0, f * 1.001, h / 2 - 0.5 + pp_offset[1]],
                  [0, 0, 1]])
    return Camera(name, K, dist, R, -R @ eye, size, model)


def ring_rig(n: int = 6, radius: float = 2.2, height: float = 1.8, size=(800, 600),
             f: float = 640.0, model: str = "pinhole", seed: int = 0) -> Rig:
    """``n`` cameras on a ring, each with its own distortion and principal point."""
    rng = np.random.default_rng(seed)
    cams = []
    for i in range(n):
        a = 2 * np.pi * i / n + rng.uniform(-0.1, 0.1)
        eye = np.array([radius * np.cos(a), radius * np.sin(a), height + rng.uniform(-0.2, 0.2)])
        if model == "fisheye":
            dist = np.array([0.02, -0.01, 0.005, -0.002]) * rng.uniform(0.5, 1.5)
        else:
            dist = np.array([rng.uniform(-0.25, -0.1), rng.uniform(0.02, 0.08),
                             rng.uniform(-1e-3, 1e-3), rng.uniform(-1e-3, 1e-3), 0.0])
        cams.append(look_at(f"cam{i + 1}", eye, np.array([0, 0, 0.6]), size,
                            f * rng.uniform(0.95, 1.05), dist, model,
                            tuple(rng.uniform(-15, 15, 2))))
    return Rig(cams, "synthetic ring")


@dataclass
class BoardPose:
    """Board -> world pose of one frame."""

    R: np.ndarray  # [3, 3]
    t: np.ndarray  # [3] metres (world position of the board frame's origin)


def _board_facing(center: np.ndarray, normal_to: np.ndarray, board: BoardSpec, spin: float,
                  tilt: np.ndarray) -> BoardPose:
    """A board centred at ``center`` whose printed face looks towards ``normal_to``."""
    front = normal_to - center
    front /= np.linalg.norm(front)
    z = -front  # board z points into the board
    up = np.array([0.0, 0.0, 1.0])
    x = np.cross(up, z)
    if np.linalg.norm(x) < 1e-6:
        x = np.array([1.0, 0, 0])
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    R = np.stack([x, y, z], 1) @ rotation_from_rodrigues([0, 0, spin])
    R = rotation_from_rodrigues(tilt) @ R
    c, r = board.squares
    mid = np.array([c / 2, r / 2, 0]) * board.square_m
    return BoardPose(R, center - R @ mid)


def board_trajectory(rig: Rig, board: BoardSpec, per_camera: int = 32, per_pair: int = 6,
                     seed: int = 1) -> list[BoardPose]:
    """Frame 0: the board face-up on the floor at the origin (so the world frame is the
    floor board's). Then, per camera, views close to it covering its image; then, per pair
    of neighbouring cameras, views between them seen by both."""
    rng = np.random.default_rng(seed)
    _c, _r = board.squares
    floor = BoardPose(WORLD_FROM_BOARD.T.copy(), np.zeros(3))  # world = board-on-floor frame
    poses = [floor]
    for cam in rig:
        eye = cam.center
        ahead = cam.R[2]
        for _k in range(per_camera):
            d = rng.uniform(0.9, 1.6)
            # spread the board over the image: aim off-axis by up to ~70 % of the half FOV
            w, h = cam.size
            u = rng.uniform(0.08, 0.92) * w
            v = rng.uniform(0.08, 0.92) * h
            ray = cam.R.T @ np.array([(u - cam.cx) / cam.fx, (v - cam.cy) / cam.fy, 1.0])
            ray /= np.linalg.norm(ray)
            center = eye + d * ray / max(ray @ ahead, 0.5)
            tilt = rng.normal(0, 0.35, 3)
            poses.append(_board_facing(center, eye, board, rng.uniform(-0.4, 0.4), tilt))
    n = len(rig)
    for i in range(n):
        a, b = rig[i].center, rig[(i + 1) % n].center
        for _k in range(per_pair):
            center = np.array([0.0, 0.0, 0.9]) + 0.45 * (a + b) / 2 * np.array([1, 1, 0]) \
                + rng.normal(0, 0.12, 3)
            mid = (a + b) / 2
            poses.append(_board_facing(center, mid, board, rng.uniform(-0.3, 0.3),
                                       rng.normal(0, 0.12, 3)))
    return poses


class Renderer:
    """Renders a board into the cameras of a rig (ray maps cached per camera)."""

    def __init__(self, rig: Rig, board: BoardSpec, px_per_square: int = 64) -> None:
        self.rig, self.board, self.pps = rig, board, px_per_square
        self.margin = px_per_square // 2
        self.texture = board.image(px_per_square, 0.5).astype(np.float32)
        self._rays: dict[str, np.ndarray] = {}

    def rays(self, cam: Camera) -> np.ndarray:  # [Hs, Ws, 2] float32 ideal normalised coords
        """Undistorted normalised coordinates of every supersampled pixel (exact on a grid
        every 4 supersampled pixels, bilinear in between: < 0.01 px for these lenses)."""
        if cam.name not in self._rays:
            w, h = cam.size
            s, step = SUPERSAMPLE, 4
            ws, hs = w * s, h * s
            gx = np.arange(0, ws + step, step, dtype=float)
            gy = np.arange(0, hs + step, step, dtype=float)
            uu, vv = np.meshgrid((gx + 0.5) / s - 0.5, (gy + 0.5) / s - 0.5)
            uv = np.stack([uu, vv], -1).reshape(-1, 1, 2)
            crit = (cv2.TERM_CRITERIA_COUNT + cv2.TERM_CRITERIA_EPS, 80, 1e-14)
            if cam.model == "fisheye":
                xy = cv2.fisheye.undistortPoints(uv, cam.K, cam.dist, criteria=crit)
            else:
                xy = cv2.undistortPointsIter(uv, cam.K, cam.dist, None, None, crit)
            coarse = xy.reshape(len(gy), len(gx), 2).astype(np.float32)
            fx, fy = np.meshgrid(np.arange(ws, dtype=np.float32) / step,
                                 np.arange(hs, dtype=np.float32) / step)
            self._rays[cam.name] = cv2.remap(coarse, fx, fy, cv2.INTER_LINEAR)
        return self._rays[cam.name]

    def visible(self, cam: Camera, pose: BoardPose, margin_px: float = 4.0) -> bool:
        """Whole board in the image, in front of the camera and facing it."""
        pts = self.board.corner_points()
        c, r = self.board.squares
        outline = np.array([[0, 0, 0], [c, 0, 0], [0, r, 0], [c, r, 0]]) * self.board.square_m
        world = np.concatenate([pts, outline]) @ pose.R.T + pose.t
        uv = cam.project(world)
        if not np.all(np.isfinite(uv)) or not cam.in_image(uv, -margin_px).all():
            return False
        normal_cam = cam.R @ pose.R[:, 2]         # board z (into the board) in camera frame
        to_board = cam.to_camera(pose.t)
        return float(normal_cam @ to_board) > 0.25 * np.linalg.norm(to_board)

    def render(self, cam: Camera, pose: BoardPose, blur_sigma: float = 0.8,
               noise: float = 2.0, rng: np.random.Generator | None = None) -> np.ndarray:
        """Grey ``[H, W]`` uint8 image of the board (white board on a mid-grey background)."""
        xy = self.rays(cam)                                           # [Hs, Ws, 2]
        Rcb = cam.R @ pose.R
        tcb = cam.R @ pose.t + cam.t
        # ray d = (x, y, 1); plane point s d with n . (s d - t) = 0; board coords R^T (s d - t)
        A = Rcb[:2, :].astype(np.float32)                               # [2(xy of d), 3]
        n = Rcb[:, 2]
        denom = xy @ A[:, 2] + np.float32(n[2])                         # d . n
        s_ = np.float32(n @ tcb) / np.maximum(denom, 1e-6)
        scale = self.pps / self.board.square_m
        off = tcb @ Rcb                                                 # board coords of t
        maps = []
        for k in (0, 1):
            along = xy @ A[:, k] + np.float32(Rcb[2, k])                # d . Rcb[:, k]
            maps.append(((s_ * along - off[k]) * scale + self.margin - 0.5).astype(np.float32))
        mx, my = maps
        img = cv2.remap(self.texture, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                        borderValue=110.0)
        w, h = cam.size
        img = cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA)
        if blur_sigma > 0:
            img = cv2.GaussianBlur(img, (0, 0), blur_sigma)
        rng = rng or np.random.default_rng(0)
        img = img + rng.normal(0, noise, img.shape)
        return np.clip(np.round(img), 0, 255).astype(np.uint8)


def render_views(rig: Rig, board: BoardSpec, poses: list[BoardPose], seed: int = 2,
                 blur_sigma: float = 0.8, noise: float = 2.0
                 ) -> dict[str, list[tuple[int, np.ndarray]]]:
    """{camera: [(frame, image)]} for the frames where the camera sees the whole board."""
    rend = Renderer(rig, board)
    rng = np.random.default_rng(seed)
    out: dict[str, list[tuple[int, np.ndarray]]] = {c.name: [] for c in rig}
    for f, pose in enumerate(poses):
        for cam in rig:
            if rend.visible(cam, pose):
                out[cam.name].append((f, rend.render(cam, pose, blur_sigma, noise, rng)))
    return out


def rotation_error_deg(Ra: np.ndarray, Rb: np.ndarray) -> float:
    c = (np.trace(Ra @ Rb.T) - 1) / 2
    return float(np.degrees(np.arccos(np.clip(c, -1, 1))))
