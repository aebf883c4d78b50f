"""Per-camera intrinsics from board views: frame selection, then OpenCV's calibration.

Frame selection (:func:`select_views`): blurred views (sharpness below
``BLUR_FRACTION`` of the camera's median) and views with few corners are dropped; then
views are picked greedily for *coverage*: each pick adds the most image cells (an 8x6 grid)
not yet holding a corner, ties broken by sharpness; once the image is covered, the rest of
the budget is spread evenly over the remaining views in time (different board poses).

:func:`calibrate_intrinsics` runs ``cv2.calibrateCamera`` (pinhole, k1 k2 p1 p2 [k3]) or
``cv2.fisheye.calibrate`` (equidistant k1..k4) on the selected views, drops views whose RMS
is far above the others and calibrates again.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import CalibrationError
from .board import BoardSpec, import_cv2
from .board_detect import BoardView, CameraDetections

#: Views sharper than this fraction of the camera's median sharpness are kept.
BLUR_FRACTION = 0.4
#: Coverage grid (columns, rows) over the image.
COVERAGE_GRID = (8, 6)


@dataclass
class Intrinsics:
    """One camera's intrinsics and how well the board views fit them.

    Attributes:
        camera: camera name.
        K: [3, 3] px.  dist: [5] pinhole (k1, k2, p1, p2, k3) or [4] fisheye (k1..k4).
        size: (width, height) px.  model: ``"pinhole"`` or ``"fisheye"``.
        rms_px: RMS reprojection error over the views used (px).
        frames: frames of the views used.
        coverage: fraction of the coverage grid's cells holding a corner of a used view.
    """

    camera: str
    K: np.ndarray
    dist: np.ndarray
    size: tuple[int, int]
    model: str
    rms_px: float
    frames: list[int]
    coverage: float


def _cells(uv: np.ndarray, size: tuple[int, int]) -> set[int]:
    gx, gy = COVERAGE_GRID
    w, h = size
    ix = np.clip((uv[:, 0] / w * gx).astype(int), 0, gx - 1)
    iy = np.clip((uv[:, 1] / h * gy).astype(int), 0, gy - 1)
    return set((iy * gx + ix).tolist())


def select_views(det: CameraDetections, board: BoardSpec, max_views: int = 40) -> list[BoardView]:
    """Sharp views that cover the image, at most ``max_views`` (see the module docstring)."""
    views = [v for v in det.views if len(v.ids) >= max(8, board.n_corners // 4)]
    if not views:
        views = list(det.views)
    if not views:
        return []
    sharp = np.array([v.sharpness for v in views])
    keep = sharp >= BLUR_FRACTION * np.median(sharp)
    views = [v for v, k in zip(views, keep) if k]
    if len(views) <= max_views:
        return sorted(views, key=lambda v: v.frame)
    cells = [_cells(v.uv, det.size) for v in views]
    rank = np.argsort(np.argsort([v.sharpness for v in views])) / len(views)  # 0..1
    chosen: list[int] = []
    covered: set[int] = set()
    while len(chosen) < max_views:
        gains = [(len(c - covered) + 0.5 * r if i not in chosen else -1.0)
                 for i, (c, r) in enumerate(zip(cells, rank))]
        best = int(np.argmax(gains))
        if gains[best] < 1.0:  # nothing new: image covered
            break
        chosen.append(best)
        covered |= cells[best]
    rest = [i for i in range(len(views)) if i not in chosen]
    n_more = max_views - len(chosen)
    if n_more > 0 and rest:
        pick = np.linspace(0, len(rest) - 1, min(n_more, len(rest))).round().astype(int)
        chosen += [rest[i] for i in sorted(set(pick.tolist()))]
    return sorted((views[i] for i in chosen), key=lambda v: v.frame)


def _calibrate(cv2, obj: list[np.ndarray], img: list[np.ndarray], size: tuple[int, int],
               model: str, fix_k3: bool) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
    """(rms, K, dist, per-view rms) from object [N_i, 3] / image [N_i, 2] point lists."""
    if model == "fisheye":
        flags = cv2.fisheye.CALIB_RECOMPUTE_EXTRINSIC | cv2.fisheye.CALIB_FIX_SKEW
        crit = (cv2.TERM_CRITERIA_COUNT + cv2.TERM_CRITERIA_EPS, 200, 1e-10)
        rms, K, D, rvecs, tvecs = cv2.fisheye.calibrate(
            [o.reshape(-1, 1, 3).astype(np.float64) for o in obj],
            [i.reshape(-1, 1, 2).astype(np.float64) for i in img],
            size, np.eye(3), np.zeros(4), flags=flags, criteria=crit)
        per_view = []
        for o, i, r, t in zip(obj, img, rvecs, tvecs):
            p, _ = cv2.fisheye.projectPoints(o.reshape(-1, 1, 3).astype(np.float64), r, t, K, D)
            per_view.append(np.sqrt(np.mean(np.sum((p.reshape(-1, 2) - i) ** 2, -1))))
        return float(rms), K, D.ravel(), np.array(per_view)
    flags = cv2.CALIB_FIX_K3 if fix_k3 else 0
    crit = (cv2.TERM_CRITERIA_COUNT + cv2.TERM_CRITERIA_EPS, 200, 1e-12)
    rms, K, D, rvecs, tvecs = cv2.calibrateCamera(
        [o.astype(np.float32) for o in obj], [i.astype(np.float32) for i in img], size,
        None, None, flags=flags, criteria=crit)
    per_view = []
    for o, i, r, t in zip(obj, img, rvecs, tvecs):
        p, _ = cv2.projectPoints(o.astype(np.float64), r, t, K, D)
        per_view.append(np.sqrt(np.mean(np.sum((p.reshape(-1, 2) - i) ** 2, -1))))
    return float(rms), K, D.ravel()[:5], np.array(per_view)


def calibrate_intrinsics(det: CameraDetections, board: BoardSpec, model: str = "pinhole",
                         max_views: int = 40, fix_k3: bool = True,
                         min_views: int = 4) -> Intrinsics:
    """Intrinsics of one camera from its board views (see the module docstring).

    Raises:
        CalibrationError naming the camera when too few usable views remain or OpenCV
        cannot calibrate from them.
    """
    cv2 = import_cv2()
    if model not in ("pinhole", "fisheye"):
        raise CalibrationError(f"unknown camera model {model!r}; expected pinhole or fisheye")
    views = select_views(det, board, max_views)
    where = f"camera {det.camera!r}" + (f" ({det.source})" if det.source else "")
    if len(views) < min_views:
        raise CalibrationError(f"{where}: only {len(views)} sharp board views with enough "
                               f"corners; at least {min_views} are needed for its intrinsics")
    corners = board.corner_points()
    obj = [corners[v.ids] for v in views]
    img = [v.uv for v in views]
    try:
        rms, K, D, per_view = _calibrate(cv2, obj, img, det.size, model, fix_k3)
        bad = per_view > max(3.0 * np.median(per_view), 1.0)
        if bad.any() and (~bad).sum() >= min_views:
            views = [v for v, b in zip(views, bad) if not b]
            obj = [o for o, b in zip(obj, bad) if not b]
            img = [i for i, b in zip(img, bad) if not b]
            rms, K, D, per_view = _calibrate(cv2, obj, img, det.size, model, fix_k3)
    except cv2.error as exc:
        raise CalibrationError(f"{where}: OpenCV could not calibrate from {len(views)} "
                               f"board views ({str(exc).strip().splitlines()[-1]})") from None
    dist = np.zeros(4 if model == "fisheye" else 5)
    dist[: min(len(D), len(dist))] = D[: len(dist)]
    covered = set().union(*(_cells(v.uv, det.size) for v in views))
    gx, gy = COVERAGE_GRID
    return Intrinsics(det.camera, np.asarray(K, float), dist, det.size, model, rms,
                      [v.frame for v in views], len(covered) / (gx * gy))
