"""A whole rig from board views: intrinsics, initial extrinsics, bundle adjustment, floor.

:func:`calibrate_board` takes every camera's :class:`CameraDetections` (same take time:
frame ``t`` of every camera shows the same instant) and returns a :class:`BoardCalibration`:

1. per camera, intrinsics from its own views (:mod:`.intrinsics`);
2. per view, the board pose in that camera (PnP on undistorted corners);
3. the cameras' co-visibility graph (frames where two cameras see the board): a camera
   that never sees the board together with another, or groups of cameras that never share
   a view, are reported by name; otherwise a maximum spanning tree from the camera with the
   most shared views chains relative poses (median over the shared frames);
4. a robust bundle adjustment over every camera (pose and intrinsics) and board pose
   (:mod:`.bundle`), observations with large residuals dropped, adjusted again;
5. the world frame: the board pose at ``origin_frame`` (default: the earliest frame seen by
   the most cameras; start the video with the board lying on the floor) with
   :data:`~.board.WORLD_FROM_BOARD`, so Z is up and the origin is the board's first corner.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..camera import Camera, Rig, rodrigues_from_rotation, rotation_from_rodrigues
from ..errors import CalibrationError
from .board import WORLD_FROM_BOARD, BoardSpec, import_cv2
from .board_detect import CameraDetections, check_detections
from .bundle import Observations, adjust
from .intrinsics import Intrinsics, calibrate_intrinsics

#: Board views whose PnP RMS exceeds this (px) are not used to chain camera poses.
PNP_MAX_RMS_PX = 3.0


@dataclass
class BoardCalibration:
    """The calibrated rig and how well it fits the board views.

    Attributes:
        rig: cameras in the floor board's world (metres, Z up).
        intrinsics: per camera, the intrinsics-only result (before the bundle adjustment).
        rms_px: {camera: RMS reprojection error (px) of its board corners after adjusting}.
        n_views: {camera: board views used}.  shared_views: {camera: views shared with
            another camera}.
        origin_frame: frame whose board pose defines the world.
        lines: human-readable summary.
    """

    rig: Rig
    intrinsics: dict[str, Intrinsics]
    rms_px: dict[str, float]
    n_views: dict[str, int]
    shared_views: dict[str, int]
    origin_frame: int
    board: BoardSpec
    lines: list[str] = field(default_factory=list)


def _undistort_normalised(cv2, uv: np.ndarray, K: np.ndarray, dist: np.ndarray,
                          model: str) -> np.ndarray:  # [N, 2]
    pts = uv.reshape(-1, 1, 2).astype(np.float64)
    if model == "fisheye":
        return cv2.fisheye.undistortPoints(pts, K, dist).reshape(-1, 2)
    return cv2.undistortPoints(pts, K, dist).reshape(-1, 2)


def board_poses(det: CameraDetections, intr: Intrinsics, board: BoardSpec
                ) -> dict[int, tuple[np.ndarray, np.ndarray, float]]:
    """{frame: (R [3, 3], t [3], rms px)} board -> camera pose of every view (PnP)."""
    cv2 = import_cv2()
    corners = board.corner_points()
    out = {}
    cam = Camera(det.camera, intr.K, intr.dist, np.eye(3), np.zeros(3), intr.size, intr.model)
    for v in det.views:
        xy = _undistort_normalised(cv2, v.uv, intr.K, intr.dist, intr.model)
        obj = corners[v.ids].astype(np.float64)
        ok, rvec, tvec = cv2.solvePnP(obj, xy, np.eye(3), None, flags=cv2.SOLVEPNP_IPPE)
        if not ok:
            continue
        ok, rvec, tvec = cv2.solvePnP(obj, xy, np.eye(3), None, rvec, tvec, True,
                                      flags=cv2.SOLVEPNP_ITERATIVE)
        R, t = rotation_from_rodrigues(rvec.ravel()), tvec.ravel()
        if t[2] <= 0:
            continue
        proj = Camera(det.camera, cam.K, cam.dist, R, t, cam.size, cam.model).project(obj)
        rms = float(np.sqrt(np.mean(np.sum((proj - v.uv) ** 2, -1))))
        out[v.frame] = (R, t, rms)
    return out


def _chain_poses(names: list[str], poses: list[dict], min_shared: int
                 ) -> tuple[int, list[tuple[np.ndarray, np.ndarray]]]:
    """Reference camera index and every camera's world (= reference camera) -> camera pose."""
    V = len(names)
    shared = np.zeros((V, V), int)
    good = [{f for f, p in ps.items() if p[2] <= PNP_MAX_RMS_PX} for ps in poses]
    for i in range(V):
        for j in range(V):
            if i != j:
                shared[i, j] = len(good[i] & good[j])
    lonely = [names[i] for i in range(V) if shared[i].max() < min_shared]
    if lonely:
        raise CalibrationError(
            "; ".join(f"camera {n!r} never sees the board in the same frame as another camera"
                      f" (at least {min_shared} shared frames are needed; it saw the board in "
                      f"{len(good[names.index(n)])} frames)" for n in lonely)
            + "; film the board where each camera and at least one other camera see it")
    ref = int(np.argmax(shared.sum(1)))
    pose: list[tuple[np.ndarray, np.ndarray] | None] = [None] * V
    pose[ref] = (np.eye(3), np.zeros(3))
    done = {ref}
    while len(done) < V:  # Prim's maximum spanning tree over shared-view counts
        best = max(((shared[p, c], p, c) for p in done for c in range(V) if c not in done),
                   default=(0, -1, -1))
        n, p, c = best
        if n < min_shared:
            groups = sorted(names[i] for i in done)
            rest = sorted(names[i] for i in range(V) if i not in done)
            raise CalibrationError(f"cameras {groups} and {rest} never see the board in the "
                                   f"same frames (at least {min_shared} shared frames are "
                                   "needed); film the board where both groups see it")
        Rp, tp = pose[p]
        rv, ts = [], []
        for f in sorted(good[p] & good[c]):
            Rpb, tpb, _ = poses[p][f]
            Rcb, tcb, _ = poses[c][f]
            # world -> c = (board -> c) (p -> board) (world -> p)
            Rcp = Rcb @ Rpb.T
            tcp = tcb - Rcp @ tpb
            Rcw, tcw = Rcp @ Rp, Rcp @ tp + tcp
            rv.append(rodrigues_from_rotation(Rcw))
            ts.append(tcw)
        pose[c] = (rotation_from_rodrigues(np.median(rv, 0)), np.median(ts, 0))
        done.add(c)
    return ref, pose  # type: ignore[return-value]


def calibrate_board(
    detections: list[CameraDetections],
    board: BoardSpec,
    model: str = "pinhole",
    origin_frame: int | None = None,
    max_views: int = 40,
    max_shared_frames: int = 120,
    refine_intrinsics: bool = True,
    fix_k3: bool = True,
    min_shared: int = 3,
) -> BoardCalibration:
    """Calibrate every camera of a rig from board views (see the module docstring).

    Args:
        detections: one entry per camera, in the output rig's order.
        model: ``"pinhole"`` or ``"fisheye"`` (every camera).
        origin_frame: frame showing the board on the floor (None: the earliest frame seen
            by the most cameras).
        max_views: board views per camera for its intrinsics.
        max_shared_frames: frames seen by several cameras kept for the adjustment (evenly
            spread in time).

    Raises:
        CalibrationError naming the camera and what was missing (no board, too few views,
        no shared views, origin frame not seen).
    """
    check_detections(detections, board)
    names = [d.camera for d in detections]
    intr = {d.camera: calibrate_intrinsics(d, board, model, max_views, fix_k3)
            for d in detections}
    poses = [board_poses(d, intr[d.camera], board) for d in detections]
    ref, chain = _chain_poses(names, poses, min_shared)
    V = len(names)

    # Frames for the adjustment: shared frames (subsampled) + each camera's intrinsic views.
    seen: dict[int, list[int]] = {}
    for v, ps in enumerate(poses):
        for f, (_, _, rms) in ps.items():
            if rms <= PNP_MAX_RMS_PX:
                seen.setdefault(f, []).append(v)
    shared_frames = sorted(f for f, vs in seen.items() if len(vs) >= 2)
    if origin_frame is None:
        most = max(len(seen[f]) for f in shared_frames)
        origin_frame = min(f for f in shared_frames if len(seen[f]) == most)
    elif origin_frame not in seen:
        raise CalibrationError(f"origin frame {origin_frame}: no camera sees the whole board "
                               "well in that frame; pick a frame with the board on the floor "
                               "in view")
    if len(shared_frames) > max_shared_frames:
        pick = np.linspace(0, len(shared_frames) - 1, max_shared_frames).round().astype(int)
        shared_frames = [shared_frames[i] for i in sorted(set(pick.tolist()))]
    frames = set(shared_frames) | {origin_frame}
    if refine_intrinsics:
        for d in detections:
            frames |= {f for f in intr[d.camera].frames if f in seen}
    frames = sorted(frames)
    index = {f: i for i, f in enumerate(frames)}

    structure = np.zeros((len(frames), 6))
    for f, i in index.items():
        v = max(seen[f], key=lambda v: len(detections[v].by_frame()[f].ids))
        Rcb, tcb, _ = poses[v][f]
        Rcw, tcw = chain[v]
        Rwb = Rcw.T @ Rcb
        structure[i] = np.concatenate([rodrigues_from_rotation(Rwb), Rcw.T @ (tcb - tcw)])
    cams, obs_cam, obs_pt, obs_corner, obs_uv = [], [], [], [], []
    for v, d in enumerate(detections):
        it = intr[d.camera]
        cams.append(Camera(d.camera, it.K, it.dist, chain[v][0], chain[v][1], it.size, model))
        for view in d.views:
            if view.frame in index and view.frame in poses[v] \
                    and poses[v][view.frame][2] <= PNP_MAX_RMS_PX:
                obs_cam.append(np.full(len(view.ids), v))
                obs_pt.append(np.full(len(view.ids), index[view.frame]))
                obs_corner.append(view.ids)
                obs_uv.append(view.uv)
    obs = Observations(np.concatenate(obs_cam), np.concatenate(obs_pt), np.concatenate(obs_uv),
                       np.concatenate(obs_corner))
    pts = board.corner_points()
    res = adjust(cams, structure, obs, pts, fixed_cameras=(ref,),
                 refine_intrinsics=refine_intrinsics, fix_k3=fix_k3)
    err = np.linalg.norm(res.residuals_px, axis=-1)
    limit = max(5.0 * float(np.median(err)), 0.3)
    if (err > limit).any():
        keep = err <= limit
        obs = Observations(obs.cam[keep], obs.point[keep], obs.uv[keep], obs.corner[keep])
        res = adjust(res.cameras, res.structure, obs, pts, fixed_cameras=(ref,),
                     refine_intrinsics=refine_intrinsics, fix_k3=fix_k3)
    # World: the board at the origin frame, Z up.
    Rwb = rotation_from_rodrigues(res.structure[index[origin_frame], :3])
    twb = res.structure[index[origin_frame], 3:]
    M = Rwb @ WORLD_FROM_BOARD.T  # board-on-floor world -> BA world (rotation part)
    final = [Camera(c.name, c.K, c.dist, c.R @ M, c.R @ twb + c.t, c.size, c.model)
             for c in res.cameras]
    rig = Rig(final, source=f"board calibration ({board.describe()})")
    rms = res.camera_rms(obs)
    counts = np.bincount(obs.cam, minlength=V)
    n_views = {n: len({f for f in frames if f in poses[v]}) for v, n in enumerate(names)}
    shared_n = {n: sum(1 for f in shared_frames if v in seen[f]) for v, n in enumerate(names)}
    lines = [f"{board.describe()}, {model} cameras, origin frame {origin_frame}, "
             f"reference camera {names[ref]}"]
    for v, n in enumerate(names):
        c = rig[n]
        lines.append(f"{n}: RMS {rms[v]:.3f} px over {counts[v]} corners "
                     f"({n_views[n]} views, {shared_n[n]} shared), fx {c.fx:.1f} fy {c.fy:.1f} "
                     f"cx {c.cx:.1f} cy {c.cy:.1f}, intrinsics-only RMS "
                     f"{intr[n].rms_px:.3f} px, coverage {intr[n].coverage:.0%}")
    below = [c.name for c in rig if c.center[2] < 0]
    if len(below) > len(rig) / 2:
        lines.append(f"warning: cameras {below} are below the floor: was the board at the "
                     f"origin frame {origin_frame} lying face-up on the floor?")
    return BoardCalibration(rig, intr, {n: float(rms[v]) for v, n in enumerate(names)},
                            n_views, shared_n, origin_frame, board, lines)
