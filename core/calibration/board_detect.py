"""Find a calibration board's inner corners in images and videos (OpenCV).

:func:`detect_board` returns the corner ids and sub-pixel positions of one image;
:func:`detect_board_video` scans a camera's video and keeps, per examined frame, the
corners, a sharpness score and the frame index. Problems are reported by
:func:`check_detections`, which names the camera and says what was missing (no board at
all; markers of the dictionary but no board of that size; too few views).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import CalibrationError
from .board import BoardSpec, import_cv2

#: A view is used when at least this many corners were found (ChArUco: not all collinear).
MIN_CORNERS = 6


@dataclass
class BoardView:
    """The board's corners found in one frame of one camera.

    Attributes:
        frame: frame index in the video (take time, after offsets).
        ids: [N] int corner ids (:meth:`BoardSpec.corner_points` rows).
        uv: [N, 2] float64 distorted pixel positions.
        sharpness: variance of the Laplacian over the board's bounding box (grey levels^2).
    """

    frame: int
    ids: np.ndarray
    uv: np.ndarray
    sharpness: float


@dataclass
class CameraDetections:
    """Every board view of one camera, plus what the detector saw for error messages."""

    camera: str
    size: tuple[int, int]  # (width, height) px
    views: list[BoardView] = field(default_factory=list)
    frames_examined: int = 0
    marker_frames: int = 0  # frames with ArUco markers of the dictionary but no board corners
    source: str = ""

    def by_frame(self) -> dict[int, BoardView]:
        return {v.frame: v for v in self.views}


class BoardDetector:
    """Detects one :class:`BoardSpec` in grey images (reuses OpenCV's detector objects)."""

    def __init__(self, board: BoardSpec) -> None:
        self.board = board
        self.cv2 = import_cv2()
        if board.kind == "charuco":
            cv2 = self.cv2
            self._charuco = cv2.aruco.CharucoDetector(board.cv_board())
            params = self._charuco.getDetectorParameters()
            params.cornerRefinementMethod = cv2.aruco.CORNER_REFINE_NONE
            self._charuco.setDetectorParameters(params)
            cparams = self._charuco.getCharucoParameters()
            cparams.minMarkers = 1
            self._charuco.setCharucoParameters(cparams)

    def detect(self, gray: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
        """Corners of one grey ``[H, W]`` uint8 image.

        Returns:
            ids [N] int, uv [N, 2] float64 (N = 0 when the board is not found), and the
            number of ArUco markers seen (ChArUco; 0 for a checkerboard).
        """
        if self.board.kind == "charuco":
            return self._detect_charuco(gray)
        return self._detect_checkerboard(gray)

    def _detect_charuco(self, gray: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
        corners, ids, _, marker_ids = self._charuco.detectBoard(gray)
        n_markers = 0 if marker_ids is None else len(marker_ids)
        if ids is None or len(ids) < MIN_CORNERS:
            return np.zeros(0, int), np.zeros((0, 2)), n_markers
        ids = ids.ravel().astype(int)
        uv = corners.reshape(-1, 2).astype(float)
        if _collinear(self.board, ids):
            return np.zeros(0, int), np.zeros((0, 2)), n_markers
        return ids, self._refine(gray, ids, uv), n_markers

    def _refine(self, gray: np.ndarray, ids: np.ndarray, uv: np.ndarray) -> np.ndarray:
        """Sub-pixel corners (``cornerSubPix``) in a window that stays inside the white
        margin around the markers. OpenCV's ChArUco interpolation alone leaves corners
        0.5 px off (pixel-corner vs pixel-centre convention) and drifts on tilted boards."""
        cv2 = self.cv2
        cols = self.board.inner_corners[0]
        rc = np.stack([ids // cols, ids % cols], -1)
        d = np.abs(rc[:, None] - rc[None]).sum(-1)
        near = d == 1
        if not near.any():
            return uv
        dist = np.where(near, np.linalg.norm(uv[:, None] - uv[None], axis=-1), np.inf)
        local = dist.min(1)                                   # [N] px to the nearest neighbour
        local = np.where(np.isfinite(local), local, np.median(local[np.isfinite(local)]))
        margin = (self.board.square_mm - self.board.marker_mm) / 2 / self.board.square_mm
        halves = np.clip(np.floor(margin * local * 0.9), 2, 10).astype(int)
        crit = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_COUNT, 50, 1e-3)
        out = uv.copy()
        for half in np.unique(halves):
            sel = halves == half
            pts = uv[sel].reshape(-1, 1, 2).astype(np.float32)
            out[sel] = cv2.cornerSubPix(gray, pts, (int(half), int(half)), (-1, -1),
                                        crit).reshape(-1, 2)
        return out.astype(float)

    def _detect_checkerboard(self, gray: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
        cv2 = self.cv2
        pattern = self.board.inner_corners
        if not cv2.checkChessboard(gray, pattern):  # fast rejection (frames without it)
            return np.zeros(0, int), np.zeros((0, 2)), 0
        found, corners = cv2.findChessboardCorners(
            gray, pattern, flags=cv2.CALIB_CB_ADAPTIVE_THRESH | cv2.CALIB_CB_NORMALIZE_IMAGE)
        if found:  # sub-pixel, in a window of ~40 % of the smallest square
            c = corners.reshape(pattern[1], pattern[0], 2)
            side = min(np.linalg.norm(np.diff(c, axis=0), axis=-1).min(),
                       np.linalg.norm(np.diff(c, axis=1), axis=-1).min())
            half = int(np.clip(0.4 * side, 2, 11))
            crit = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_COUNT, 50, 1e-3)
            corners = cv2.cornerSubPix(gray, corners, (half, half), (-1, -1), crit)
        else:  # the sector-based detector copes with blur and strong perspective
            found, corners = cv2.findChessboardCornersSB(gray, pattern,
                                                         flags=cv2.CALIB_CB_ACCURACY)
        if not found:
            return np.zeros(0, int), np.zeros((0, 2)), 0
        uv = corners.reshape(-1, 2).astype(float)
        return np.arange(len(uv)), _checker_uv(self.board, uv, gray), 0


def _collinear(board: BoardSpec, ids: np.ndarray) -> bool:
    """True when all corners lie on one row or one column (no pose from them)."""
    cols = board.inner_corners[0]
    return len(set(ids // cols)) < 2 or len(set(ids % cols)) < 2


def _checker_uv(board: BoardSpec, uv: np.ndarray, gray: np.ndarray) -> np.ndarray:
    """Checkerboard corners in row-major order, starting from the same physical corner in
    every camera. OpenCV may start from either end (the pattern looks alike after a half
    turn). When columns + rows of squares is odd the two ends differ: the square diagonally
    outside the first corner is dark at one end and light at the other, so the order starts
    at the end whose outside square is dark. Otherwise (a truly symmetric board) it starts
    from the corner nearest the image's top-left, which only cameras on the same side agree
    on: use a ChArUco board or an odd total of squares for rigs around the actor."""
    cols, rows = board.inner_corners
    grid = uv.reshape(rows, cols, 2)
    if (board.squares[0] + board.squares[1]) % 2 == 1:
        first = _outside_level(gray, grid[0, 0], grid[1, 1])
        last = _outside_level(gray, grid[-1, -1], grid[-2, -2])
        flip = first > last
    else:
        flip = grid[0, 0].sum() > grid[-1, -1].sum()
    if flip:
        grid = grid[::-1, ::-1]
    return grid.reshape(-1, 2).copy()


def _outside_level(gray: np.ndarray, corner: np.ndarray, inner: np.ndarray) -> float:
    """Mean grey level around the middle of the square diagonally outside ``corner``."""
    p = corner + 0.5 * (corner - inner)
    r = max(1, int(0.15 * np.linalg.norm(corner - inner)))
    h, w = gray.shape
    x, y = round(p[0]), round(p[1])
    patch = gray[max(0, y - r): min(h, y + r + 1), max(0, x - r): min(w, x + r + 1)]
    return float(patch.mean()) if patch.size else 128.0


def sharpness(gray: np.ndarray, uv: np.ndarray) -> float:
    """Variance of the Laplacian inside the bounding box of ``uv`` [N, 2] (a blur score)."""
    cv2 = import_cv2()
    h, w = gray.shape
    x0, y0 = np.clip(np.floor(uv.min(0)).astype(int), 0, [w - 1, h - 1])
    x1, y1 = np.clip(np.ceil(uv.max(0)).astype(int) + 1, 1, [w, h])
    patch = gray[y0:y1, x0:x1]
    if patch.size < 16:
        return 0.0
    return float(cv2.Laplacian(patch, cv2.CV_64F).var())


def detect_board_images(
    images: Iterable[tuple[int, np.ndarray]],  # (frame, [H, W] or [H, W, 3] uint8)
    board: BoardSpec,
    camera: str,
    source: str = "",
) -> CameraDetections:
    """Board views of one camera from ``(frame, image)`` pairs (RGB or grey)."""
    detector = BoardDetector(board)
    cv2 = detector.cv2
    out = CameraDetections(camera, (0, 0), source=source)
    for frame, img in images:
        gray = img if img.ndim == 2 else cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
        out.size = (gray.shape[1], gray.shape[0])
        out.frames_examined += 1
        ids, uv, n_markers = detector.detect(gray)
        if len(ids) == 0:
            out.marker_frames += int(n_markers > 0)
            continue
        out.views.append(BoardView(int(frame), ids, uv, sharpness(gray, uv)))
    return out


def video_frames(path: str | Path, camera: str, step: int = 1, offset: int = 0,
                 max_frames: int | None = None) -> Iterator[tuple[int, np.ndarray]]:
    """Every ``step``-th frame of a video as ``(take frame, rgb)``; take frame ``t`` is video
    frame ``t + offset``."""
    from ..video import iter_frames

    n = 0
    for index, rgb in iter_frames(path, start=max(0, offset), camera=camera):
        t = index - offset
        if t % step:
            continue
        yield t, rgb
        n += 1
        if max_frames is not None and n >= max_frames:
            return


def detect_board_video(path: str | Path, board: BoardSpec, camera: str, step: int = 1,
                       offset: int = 0) -> CameraDetections:
    """Board views of one camera's video (every ``step``-th frame, sync ``offset``)."""
    return detect_board_images(video_frames(path, camera, step, offset), board, camera,
                               source=str(path))


def check_detections(detections: list[CameraDetections], board: BoardSpec,
                     min_views: int = 4) -> None:
    """Raise a :class:`CalibrationError` naming each camera whose board views are missing
    or too few, and saying what the detector saw instead."""
    problems = []
    for det in detections:
        where = f"camera {det.camera!r}" + (f" ({det.source})" if det.source else "")
        if not det.views:
            if det.marker_frames:
                problems.append(
                    f"{where}: ArUco markers of {board.dictionary} were found in "
                    f"{det.marker_frames} of {det.frames_examined} frames, but no "
                    f"{board.describe()}; check the board's squares (columns x rows of "
                    "squares) and its marker and square sizes")
            else:
                extra = ("; the board's squares count squares, not inner corners"
                         if board.kind == "checkerboard" else
                         "; check the board's ArUco dictionary and squares")
                problems.append(f"{where}: no {board.describe()} found in any of the "
                                f"{det.frames_examined} frames examined{extra}")
        elif len(det.views) < min_views:
            problems.append(f"{where}: the board was found in only {len(det.views)} of "
                            f"{det.frames_examined} frames examined; at least {min_views} "
                            "views at different positions and angles are needed")
    if problems:
        raise CalibrationError("; ".join(problems))
