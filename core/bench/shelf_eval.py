"""Shelf real-detection evaluation: per-actor oracle association, PCP and MPJPE.

Our fitter and the baselines are single-person methods, so each ground-truth actor is
evaluated on its own with an **oracle association**: in every view, frame and joint the
ground truth picks the OpenPose candidate nearest to the actor's projected joint (limb
joints: the joint itself; neck: mid-shoulders; mid-hip: pelvis; face joints: the head
centre; feet: the ankle), if it lies within 0.3 m (at the actor's depth). That is an
upper bound on what a real association step would give. The 4D-Association output
(``skel.txt``, multi-person, no oracle) is scored with the same code: per frame its
skeletons are matched to the ground-truth actors by minimum total joint distance
(Hungarian); an actor without a match counts all its limbs as wrong.

:func:`evaluate_view_oracle` is not a method but the section's "what the detections allow"
row: the ground truth chooses, per frame and limb joint, the views to triangulate.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..camera import Rig
from ..keypoints.multiview import Keypoints2D
from ..triangulation import triangulate_dlt, undistort_keypoints
from .metrics import mpjpe, pcp
from .shelf import (
    SHELF_FROM_BODY25,
    SHELF_LIMBS,
    body25_to_shelf15,
    read_detections,
    read_skeleton_file,
    skel19_to_shelf15,
)

ACTORS = (0, 1, 2)  # "Actor 1..3" of the Shelf protocol
GATE_M = 0.3
VIEW_ORACLE = "oracle: ground truth chooses the views (not a method)"


@dataclass
class ShelfData:
    rig: Rig
    gt: object  # ShelfSkeletons
    skel: object  # ShelfSkeletons (4D Association output)
    detections: list[list[list[np.ndarray]]]  # [V][F][25] -> [c, 3]
    oracle: dict = field(default_factory=dict)  # actor -> (Keypoints2D, gt15), cached


def load_shelf(data_dir: Path) -> ShelfData:
    from ..calibration import read_calibration

    root = Path(data_dir) / "shelf_4dassoc"
    rig = read_calibration(root / "calibration.json", fmt="shelf")
    det = [read_detections(root / "detection" / f"{c.name}.txt", c.size) for c in rig]
    return ShelfData(rig, read_skeleton_file(root / "gt.txt"),
                     read_skeleton_file(root / "skel.txt"), det)


def _reference_points(X: np.ndarray) -> np.ndarray:
    """[15, 3] Shelf ground truth -> [25, 3] BODY_25 reference points for the oracle."""
    ref = np.full((25, 3), np.nan)
    for b, s in zip((11, 10, 9, 12, 13, 14, 4, 3, 2, 5, 6, 7), range(12)):
        ref[b] = X[s]
    ref[1] = 0.5 * (X[8] + X[9])
    ref[8] = X[14]
    head = 0.5 * (X[12] + X[13])
    ref[[0, 15, 16, 17, 18]] = head
    ref[[19, 20, 21]] = X[5]  # left foot points -> left ankle
    ref[[22, 23, 24]] = X[0]
    return ref


def oracle_keypoints(data: ShelfData, actor: int) -> tuple[Keypoints2D, np.ndarray]:
    """Oracle-associated BODY_25 detections of ``actor`` over all frames
    ([F, V, 25, 3], zero where absent) and its ground truth [F, 15, 3] (NaN where absent).
    Cached on ``data``."""
    if actor in data.oracle:
        return data.oracle[actor]
    gt, _ = data.gt.track(actor)
    F, V = data.gt.n_frames, len(data.rig)
    kp = np.zeros((F, V, 25, 3))
    for f in range(F):
        if not np.isfinite(gt[f]).any():
            continue
        ref = _reference_points(gt[f])
        for v, cam in enumerate(data.rig):
            uv = cam.project(ref)
            m_per_px = cam.depth(ref) / cam.fx
            for j in range(25):
                cand = data.detections[v][f][j]
                if not len(cand) or not np.isfinite(uv[j]).all():
                    continue
                d = np.linalg.norm(cand[:, :2] - uv[j], axis=1)
                i = int(np.argmin(d))
                if d[i] * m_per_px[j] <= GATE_M:
                    kp[f, v, j] = cand[i]
                    kp[f, v, j, 2] = min(cand[i, 2], 1.0)  # a few OpenPose scores exceed 1
    keypoints = Keypoints2D(kp, data.rig.names, "body_25", source=f"shelf actor {actor + 1}",
                            meta={"association": "oracle"})
    data.oracle[actor] = (keypoints, gt)
    return keypoints, gt


def score(pred15: np.ndarray, gt15: np.ndarray) -> dict[str, float]:
    """PCP (per limb + average) and MPJPE (mm, 12 limb joints) on frames with ground truth."""
    present = np.isfinite(gt15).any((1, 2))
    out = pcp(pred15[present], gt15[present], SHELF_LIMBS)
    out["mpjpe_mm"] = mpjpe(pred15[present][:, :12], gt15[present][:, :12])
    out["frames"] = int(present.sum())
    return out


def score_4dassoc(data: ShelfData) -> dict[int, dict[str, float]]:
    """Per actor scores of the 4D-Association SKEL19 output (Hungarian-matched per frame)."""
    from scipy.optimize import linear_sum_assignment

    F = data.gt.n_frames
    preds = {a: np.full((F, 15, 3), np.nan) for a in ACTORS}
    for f in range(F):
        gts = data.gt.people[f]
        ours = {pid: skel19_to_shelf15(X) for pid, X in data.skel.people[f].items()}
        if not gts or not ours:
            continue
        gid, oid = list(gts), list(ours)
        cost = np.array([[np.nansum(np.linalg.norm(ours[o] - gts[g], axis=-1)) for g in gid]
                         for o in oid])
        for r, c in zip(*linear_sum_assignment(cost)):
            if gid[c] in preds:
                preds[gid[c]][f] = ours[oid[r]]
    return {a: score(preds[a], data.gt.track(a)[0]) for a in ACTORS}


def evaluate_method(data: ShelfData, method: Callable[[Keypoints2D, Rig], np.ndarray]
                    ) -> dict[int, dict[str, float]]:
    """Per actor scores of a single-person method ``method(keypoints, rig) -> [F, 25, 3]``,
    run on the frames from the actor's first to last ground-truth frame."""
    out = {}
    for a in ACTORS:
        kp, gt15 = oracle_keypoints(data, a)
        present = np.nonzero(np.isfinite(gt15).any((1, 2)))[0]
        first, last = int(present[0]), int(present[-1]) + 1  # the actor's span of frames
        X = np.full((kp.data.shape[0], 25, 3), np.nan)
        X[first:last] = method(kp.frames(first, last), data.rig)
        out[a] = score(body25_to_shelf15(X), gt15)
    return out


def _subset_points(P: np.ndarray, uv: np.ndarray, seen: np.ndarray) -> np.ndarray:
    """[S, F, 3] DLT points of one joint from every subset of >= 2 views (NaN where the
    subset has fewer than 2 detections); ``uv`` [F, V, 2] undistorted, ``seen`` [F, V]."""
    V = P.shape[0]
    out = []
    for k in range(2, V + 1):
        for sub in itertools.combinations(range(V), k):
            w = np.zeros(V)
            w[list(sub)] = 1.0
            out.append(triangulate_dlt(P, uv, w * seen))
    return np.stack(out)


def _nearest(cands: np.ndarray, err: np.ndarray, fallback: np.ndarray) -> np.ndarray:
    """Per frame the candidate with the smallest finite ``err``; ``fallback`` where none.

    cands [S, F, 3], err [S, F], fallback [F, 3] -> [F, 3]."""
    err = np.where(np.isfinite(err), err, np.inf)
    pick = np.argmin(err, axis=0)
    chosen = np.take_along_axis(cands, pick[None, :, None], axis=0)[0]
    return np.where(np.isfinite(err.min(0))[:, None], chosen, fallback)


def view_oracle_joints(data: ShelfData, actor: int) -> np.ndarray:
    """[F, 25, 3] BODY_25 joints where the ground truth chooses the views (NaN: no answer).

    Every subset of >= 2 views that detected one of the 12 limb joints is triangulated (DLT)
    and, per frame, the point nearest to the ground truth is kept; the other joints come from
    all views' DLT.
    """
    kp, gt15 = oracle_keypoints(data, actor)
    P = data.rig.projection_matrices
    det = kp.data.transpose(0, 2, 1, 3)  # [F, J, V, 3]
    und = undistort_keypoints(data.rig, det)[..., :2]
    seen = (det[..., 2] > 0).astype(float)  # [F, J, V]
    X = triangulate_dlt(P, und, seen)  # [F, J, 3] all views
    for s15, j in enumerate(SHELF_FROM_BODY25):
        cands = _subset_points(P, und[:, j], seen[:, j])  # [S, F, 3]
        X[:, j] = _nearest(cands, np.linalg.norm(cands - gt15[:, s15], axis=-1), X[:, j])
    return X


def evaluate_view_oracle(data: ShelfData) -> dict[int, dict[str, float]]:
    """Per actor scores of :func:`view_oracle_joints`, with head and torso counted correct.

    An upper bound on the PCP of any method that triangulates a subset of these detections,
    however it picks the views: its arms and legs cannot beat the ground truth's choice, and
    its head and torso cannot beat 100 %. Shelf's head joints are built from ears and
    shoulders, so a per-joint choice does not bound them; counting them correct keeps the
    bound honest. Weighted or model-based fits are not bound by it in principle; none of
    ours or the baselines scores above it on any limb.
    """
    out = {}
    for a in ACTORS:
        _, gt15 = oracle_keypoints(data, a)
        s = score(body25_to_shelf15(view_oracle_joints(data, a)), gt15)
        s["head"] = s["torso"] = 1.0
        s["average"] = float(np.mean([s[k] for k in SHELF_LIMBS]))
        out[a] = s
    return out
