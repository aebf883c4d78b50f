"""Choosing the actor when a keypoint file holds several people.

Policy (applied per frame):

- **With a rig** (two or more calibrated views): every candidate person in every view is
  tried as an anchor. In each other view, the candidate whose joints lie closest to the
  anchor's epipolar lines (median symmetric epipolar distance over the joints both see,
  in undistorted pixels, at least 3 joints) is matched when that distance is below
  ``max(20 px, 5 % of the image diagonal)`` (real rigs are not perfect: the Pose2Sim
  demo's MediaPipe detections agree to a median 16 px, 99th percentile 216 px, at
  1088x1920). The set with the most mutually consistent view pairs (every pair checked,
  not only pairs with the anchor), then the most views, wins; ties go to the set
  nearest (mean 2D distance) to the previous frame's choice when that is within 10 % of
  the image diagonal, else to the highest total confidence. Views
  without a consistent candidate get confidence 0 for that frame (a bystander seen alone
  in one view is not mistaken for the actor). Frames where every view has at most one
  candidate are kept as they are: there is nothing to choose, and dropping views that
  disagree is the fitter's job (robust initialisation), not the reader's. When no two
  views agree on anyone, each view falls back to the rule below.
- **Without a rig**: each view is tracked on its own: the first frame takes the candidate
  with the highest mean confidence; later frames take the candidate nearest the previous
  choice (mean distance over joints both see) when it is within half the previous
  person's bounding-box diagonal, else again the most confident one.
"""

from __future__ import annotations

import numpy as np

from ..camera import Rig

_MIN_COMMON_JOINTS = 3


def _mean_conf(c: np.ndarray) -> float:
    return float(c[:, 2].mean()) if c.size else 0.0


def _track_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Mean pixel distance over joints with confidence in both [J, 3] arrays (inf if none)."""
    both = (a[:, 2] > 0) & (b[:, 2] > 0)
    if not both.any():
        return np.inf
    return float(np.linalg.norm(a[both, :2] - b[both, :2], axis=1).mean())


def _bbox_diag(c: np.ndarray) -> float:
    ok = c[:, 2] > 0
    if ok.sum() < 2:
        return 0.0
    pts = c[ok, :2]
    return float(np.linalg.norm(pts.max(0) - pts.min(0)))


def _pick(cands: list[np.ndarray], prev: np.ndarray | None) -> np.ndarray | None:
    """One view's choice: nearest to the previous choice when close, else most confident."""
    if not cands:
        return None
    if prev is not None:
        d = [_track_distance(prev, c) for c in cands]
        k = int(np.argmin(d))
        if d[k] <= 0.5 * max(_bbox_diag(prev), 1.0):
            return cands[k]
    return cands[int(np.argmax([_mean_conf(c) for c in cands]))]


def _select_single_view(frames: list[list[np.ndarray] | None]
                        ) -> tuple[list[np.ndarray | None], int]:
    """Temporal choice in one view; returns the choices and how many frames had a choice."""
    out: list[np.ndarray | None] = []
    prev = None
    choices = 0
    for cands in frames:
        pick = _pick(cands or [], prev)
        choices += int(cands is not None and len(cands) > 1)
        out.append(pick)
        if pick is not None:
            prev = pick
    return out, choices


def _skew(v: np.ndarray) -> np.ndarray:
    return np.array([[0, -v[2], v[1]], [v[2], 0, -v[0]], [-v[1], v[0], 0]])


def fundamental_matrices(rig: Rig) -> np.ndarray:
    """[V, V, 3, 3] F[a, b] with ``x_b^T F[a, b] x_a = 0`` for undistorted pixels."""
    V = len(rig)
    F = np.zeros((V, V, 3, 3))
    Kinv = [np.linalg.inv(c.K) for c in rig]
    for a, ca in enumerate(rig):
        for b, cb in enumerate(rig):
            if a == b:
                continue
            R = cb.R @ ca.R.T
            t = cb.t - R @ ca.t
            F[a, b] = Kinv[b].T @ _skew(t) @ R @ Kinv[a]
    return F


def epipolar_distance(F: np.ndarray, xa: np.ndarray, xb: np.ndarray) -> float:
    """Median symmetric epipolar distance (px) between [J, 3] candidates (u, v undistorted,
    confidence) over joints both see; inf with fewer than 3 such joints."""
    both = (xa[:, 2] > 0) & (xb[:, 2] > 0)
    if both.sum() < _MIN_COMMON_JOINTS:
        return np.inf
    pa = np.c_[xa[both, :2], np.ones(both.sum())]
    pb = np.c_[xb[both, :2], np.ones(both.sum())]
    la = pa @ F.T            # epipolar lines in view b
    lb = pb @ F              # epipolar lines in view a
    num = np.abs(np.sum(pb * la, axis=1))
    with np.errstate(divide="ignore", invalid="ignore"):
        d = 0.5 * num * (1 / np.hypot(la[:, 0], la[:, 1]) + 1 / np.hypot(lb[:, 0], lb[:, 1]))
    d = d[np.isfinite(d)]
    return float(np.median(d)) if d.size else np.inf


def _best_hypothesis(views: list[list[np.ndarray]], und: list[list[np.ndarray]],
                     F: np.ndarray, thresh: np.ndarray, diag: np.ndarray,
                     prev: list[np.ndarray | None] | None) -> tuple[list[int | None], int]:
    """One frame: the candidate set most consistent across views (module docstring).

    Returns the chosen candidate index per view (None: no consistent candidate) and the
    number of views in the set.
    """
    V = len(views)
    best_key, best = None, [None] * V
    for a in range(V):
        for i in range(len(views[a])):
            chosen: list[int | None] = [None] * V
            chosen[a] = i
            for b in range(V):
                if b == a or not views[b]:
                    continue
                d = [epipolar_distance(F[a, b], und[a][i], und[b][k]) for k in range(len(views[b]))]
                k = int(np.argmin(d))
                if d[k] <= thresh[b]:
                    chosen[b] = k
            picked = [(v, k) for v, k in enumerate(chosen) if k is not None]
            support = len(picked)
            # every pair of the set, not only the anchor's: a set of look-alikes that each
            # match the anchor but not each other scores low
            agree = sum(epipolar_distance(F[v, w], und[v][k], und[w][m]) <= thresh[w]
                        for n, (v, k) in enumerate(picked) for w, m in picked[n + 1:])
            conf = sum(_mean_conf(views[v][k]) for v, k in picked)
            near = np.inf
            if prev is not None:
                ds = [_track_distance(prev[v], views[v][k]) / diag[v]
                      for v, k in enumerate(chosen) if k is not None and prev[v] is not None]
                ds = [x for x in ds if np.isfinite(x)]
                if ds:
                    near = float(np.mean(ds))
            tracked = near <= 0.1
            key = (agree, support, tracked, -near if tracked else 0.0, conf)
            if best_key is None or key > best_key:
                best_key, best = key, chosen
    return best, (best_key[1] if best_key else 0)


def _undistort_all(per_view: list[list[list[np.ndarray] | None]], rig: Rig
                   ) -> list[list[list[np.ndarray] | None]]:
    """Copies of every candidate with (u, v) undistorted, one batched call per view."""
    out = []
    for v, frames in enumerate(per_view):
        cam = rig[v]
        flat = [c for cands in frames if cands for c in cands]
        if flat and cam.has_distortion:
            stack = np.stack(flat)
            stack[..., :2] = cam.undistort_points(stack[..., :2])
            flat = list(stack)
        it = iter(flat)
        out.append([None if cands is None else [next(it) for _ in cands] for cands in frames])
    return out


def select_people(take: list[dict[int, np.ndarray]], frame_numbers: np.ndarray, J: int,
                  rig: Rig | None) -> tuple[np.ndarray, dict]:
    """One person per frame and view.

    Args:
        take: per view, take frame -> candidates [P, J, 3] (u, v px, confidence).
        frame_numbers: [F] take frames to fill.
        J: joints per person.
        rig: cameras in the same order as ``take`` (enables multi-view consistency), or None.
    Returns:
        data [F, V, J, 3] (confidence 0 where missing) and a summary dict
        (``policy``, ``frames_with_choice``, ``views_dropped``).
    """
    F, V = len(frame_numbers), len(take)
    data = np.zeros((F, V, J, 3))
    per_view = [[_clean(d.get(int(f))) for f in frame_numbers] for d in take]
    use_rig = rig is not None and V >= 2
    summary = {"policy": "multi-view epipolar consistency" if use_rig else "per-view tracking",
               "frames_with_choice": 0, "views_dropped": 0}
    if not use_rig:
        for v in range(V):
            picks, n = _select_single_view(per_view[v])
            summary["frames_with_choice"] += n
            for f, p in enumerate(picks):
                if p is not None:
                    data[f, v] = p
        return data, summary
    Fm = fundamental_matrices(rig)
    und = _undistort_all(per_view, rig)
    diag = np.hypot(rig.sizes[:, 0], rig.sizes[:, 1]).astype(float)
    thresh = np.maximum(20.0, 0.05 * diag)
    prev: list[np.ndarray | None] = [None] * V
    for f in range(F):
        views = [per_view[v][f] or [] for v in range(V)]
        multi = any(len(c) > 1 for c in views)
        summary["frames_with_choice"] += int(multi)
        if not multi:
            picks = [c[0] if c else None for c in views]      # nothing to choose
        else:
            chosen, support = _best_hypothesis(views, [und[v][f] or [] for v in range(V)],
                                               Fm, thresh, diag, prev)
            if support >= 2:
                picks = [views[v][k] if k is not None else None for v, k in enumerate(chosen)]
                summary["views_dropped"] += sum(p is None and len(views[v]) > 0
                                                for v, p in enumerate(picks))
            else:  # no two views agree on anyone: choose view by view
                picks = [_pick(views[v], prev[v]) for v in range(V)]
        for v, p in enumerate(picks):
            if p is not None:
                data[f, v] = p
                prev[v] = p
    return data, summary


def _clean(cands: np.ndarray | None) -> list[np.ndarray] | None:
    """Candidates with at least one detected joint, as a list of [J, 3] arrays."""
    if cands is None:
        return None
    out = []
    for c in np.asarray(cands, dtype=float):
        c = c.copy()
        bad = ~np.isfinite(c).all(axis=1) | (c[:, 2] <= 0)
        c[bad] = 0.0
        if (c[:, 2] > 0).any():
            out.append(c)
    return out
