"""Shelf (Belagiannis et al. 2014) as exported by 4D Association: ground truth, the
4D-Association 3D output and the raw OpenPose BODY_25 candidates.

Research-only data: read from ``../shared/data/shelf_4dassoc`` at run time, never bundled.
File formats are described in that folder's PROVENANCE.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import SkelsplatError

#: BODY_25 -> SKEL19 joint indices of 4D Association (-1: not in SKEL19).
BODY25_TO_SKEL19 = (4, 1, 5, 11, 15, 6, 12, 16, 0, 2, 7, 13, 3, 8, 14, -1, -1, 9, 10, 17, -1, -1,
                    18, -1, -1)
#: BODY_25 index of each of the 12 Shelf-15 limb joints (Shelf order 0..11).
SHELF_FROM_BODY25 = (11, 10, 9, 12, 13, 14, 4, 3, 2, 5, 6, 7)
#: Shelf-15 limbs scored by PCP: name -> (joint a, joint b).
SHELF_LIMBS: dict[str, tuple[int, int]] = {
    "left_upper_arm": (9, 10), "right_upper_arm": (8, 7),
    "left_lower_arm": (10, 11), "right_lower_arm": (7, 6),
    "left_upper_leg": (3, 4), "right_upper_leg": (2, 1),
    "left_lower_leg": (4, 5), "right_lower_leg": (1, 0),
    "head": (12, 13), "torso": (12, 14),
}


@dataclass
class ShelfSkeletons:
    """Per-frame 3D skeletons of several people: ``people[f]`` maps id -> [J, 3] metres,
    with ``valid[f][id]`` [J] bool."""

    people: list[dict[int, np.ndarray]]
    valid: list[dict[int, np.ndarray]]
    n_joints: int

    @property
    def n_frames(self) -> int:
        return len(self.people)

    def track(self, pid: int) -> tuple[np.ndarray, np.ndarray]:
        """[F, J, 3] positions of person ``pid`` (NaN where absent) and [F] presence."""
        X = np.full((self.n_frames, self.n_joints, 3), np.nan)
        present = np.zeros(self.n_frames, dtype=bool)
        for f, d in enumerate(self.people):
            if pid in d:
                X[f] = np.where(self.valid[f][pid][:, None], d[pid], np.nan)
                present[f] = True
        return X, present


def read_skeleton_file(path: str | Path) -> ShelfSkeletons:
    """Read ``gt.txt`` / ``skel.txt``: header "J F"; per frame n people, each an id and
    4 x J rows (x, y, z, valid)."""
    path = Path(path)
    try:
        tok = path.read_text().split()
    except OSError as exc:
        raise SkelsplatError(f"{path}: cannot read ({exc})") from None
    it = iter(tok)
    try:
        J, F = int(next(it)), int(next(it))
        people, valid = [], []
        for _ in range(F):
            n = int(next(it))
            d, v = {}, {}
            for _ in range(n):
                pid = int(next(it))
                block = np.array([float(next(it)) for _ in range(4 * J)]).reshape(4, J)
                d[pid] = block[:3].T.copy()
                v[pid] = block[3] > 0
            people.append(d)
            valid.append(v)
    except (StopIteration, ValueError):
        raise SkelsplatError(f"{path}: truncated or malformed skeleton file") from None
    return ShelfSkeletons(people, valid, J)


def read_detections(path: str | Path, image_size: tuple[int, int]) -> list[list[np.ndarray]]:
    """Read one camera's OpenPose candidates: ``out[f][j]`` is [c, 3] (u px, v px, score).

    Coordinates are stored divided by the image size; 4D Association scales them back by
    (width - 1, height - 1), which we follow. PAF matrices are skipped.
    """
    path = Path(path)
    try:
        tok = path.read_text().split()
    except OSError as exc:
        raise SkelsplatError(f"{path}: cannot read ({exc})") from None
    vals = np.array(tok, dtype=float)
    skel_type, F = int(vals[0]), int(vals[1])
    if skel_type != 4:
        raise SkelsplatError(f"{path}: expected BODY25 detections (type 4), got type {skel_type}")
    pa = (1, 9, 10, 8, 8, 12, 13, 1, 2, 3, 2, 1, 5, 6, 5, 1, 0, 0, 15, 16, 14, 19, 14, 11, 22, 11)
    pb = (8, 10, 11, 9, 12, 13, 14, 2, 3, 4, 17, 5, 6, 7, 18, 0, 15, 16, 17, 18, 19, 20, 21, 22,
          23, 24)
    w, h = image_size
    scale = np.array([w - 1.0, h - 1.0, 1.0])
    pos = 2
    out: list[list[np.ndarray]] = []
    for _ in range(F):
        joints = []
        for _ in range(25):
            c = int(vals[pos])
            pos += 1
            joints.append(vals[pos:pos + 3 * c].reshape(3, c).T * scale)
            pos += 3 * c
        counts = [len(j) for j in joints]
        pos += sum(counts[a] * counts[b] for a, b in zip(pa, pb))
        out.append(joints)
    if pos != len(vals):
        raise SkelsplatError(f"{path}: {len(vals) - pos} trailing numbers (format mismatch)")
    return out


def skel19_to_shelf15(X: np.ndarray) -> np.ndarray:
    """[..., 19, 3] 4D-Association SKEL19 -> [..., 15, 3] Shelf joints (head rule below)."""
    body = np.full((*X.shape[:-2], 25, 3), np.nan)
    for b, s in enumerate(BODY25_TO_SKEL19):
        if s >= 0:
            body[..., b, :] = X[..., s, :]
    return body25_to_shelf15(body)


def body25_to_shelf15(X: np.ndarray) -> np.ndarray:
    """[..., 25, 3] BODY_25 joints (metres, z up) -> [..., 15, 3] Shelf-15.

    The 12 limb joints map directly; pelvis = mid_hip. Shelf's head joints are not
    detector joints; we use the convention of the 4D-Association evaluation: bottom of head
    = halfway from mid-shoulders to mid-ears; top of head = that + 12.5 cm along the facing
    direction (neck-pelvis x right-left shoulder) + 14.5 cm up (world z).
    """
    X = np.asarray(X, dtype=float)
    out = np.full((*X.shape[:-2], 15, 3), np.nan)
    out[..., :12, :] = X[..., list(SHELF_FROM_BODY25), :]
    out[..., 14, :] = X[..., 8, :]
    sho = 0.5 * (X[..., 2, :] + X[..., 5, :])
    ears = 0.5 * (X[..., 17, :] + X[..., 18, :])
    face = np.cross(X[..., 1, :] - X[..., 8, :], X[..., 2, :] - X[..., 5, :])
    with np.errstate(invalid="ignore", divide="ignore"):
        face = face / np.linalg.norm(face, axis=-1, keepdims=True)
    out[..., 12, :] = sho + 0.5 * (ears - sho)
    out[..., 13, :] = out[..., 12, :] + 0.125 * face + np.array([0.0, 0.0, 0.145])
    return out
