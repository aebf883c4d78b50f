"""Benchmark rigs and where the actor stands in each: the real Shelf rig, CMU Panoptic HD
camera subsets (with their real lens distortion) and seeded random rings of cameras.

A :class:`Stage` says how to put CMU motion (Y up) into a rig's world frame: the floor
point under the capture-volume centre and the world's up axis.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..camera import Rig
from ..fit.synthetic import look_at_camera

#: Panoptic HD subsets used by the benchmark (camera names in calibration_<seq>.json):
#: cameras that see a 1.7 m x 1.6 m volume at the stage centre, spread in azimuth
#: (4: about 90 degrees apart; 8: around the dome).
PANOPTIC_SUBSETS: dict[str, tuple[str, ...]] = {
    "panoptic4": ("00_07", "00_13", "00_06", "00_19"),
    "panoptic8": ("00_07", "00_02", "00_28", "00_13", "00_17", "00_11", "00_06", "00_19"),
}
PANOPTIC_SEQ = "160906_band1"


@dataclass(frozen=True)
class Stage:
    """Floor point ``centre`` [3] (metres, world) under the capture-volume centre, and the
    unit ``up`` [3] axis of the world frame."""

    centre: np.ndarray
    up: np.ndarray


def _read_rig(path: Path, fmt: str, cameras: list[str] | None = None) -> Rig:
    from ..calibration import read_calibration

    return read_calibration(path, fmt=fmt, cameras=cameras)


def shelf_rig(data_dir: Path) -> tuple[Rig, Stage]:
    """The 5-camera Shelf rig (z up) with the stage at the mean ground-truth pelvis."""
    from .shelf import read_skeleton_file

    root = Path(data_dir) / "shelf_4dassoc"
    rig = _read_rig(root / "calibration.json", "shelf")
    gt = read_skeleton_file(root / "gt.txt")
    pel = np.array([p[14] for d in gt.people for p in d.values()])
    centre = np.array([*np.nanmean(pel[:, :2], 0), 0.0])
    return rig, Stage(centre, np.array([0.0, 0.0, 1.0]))


def panoptic_rig(data_dir: Path, subset: str = "panoptic4") -> tuple[Rig, Stage]:
    """A Panoptic HD camera subset (1920x1080, real distortion), world y down, in metres.

    The stage centre is the mean ground-truth body centre of the sequence, the floor the
    lowest ankle height (largest y) in its first ground-truth frame.
    """
    root = Path(data_dir) / "mmpose_testdata" / "panoptic" / PANOPTIC_SEQ
    rig = _read_rig(root / f"calibration_{PANOPTIC_SEQ}.json", "panoptic",
                    list(PANOPTIC_SUBSETS[subset]))
    rig = rig.subset(list(PANOPTIC_SUBSETS[subset]))
    files = sorted((root / "hdPose3d_stage1_coco19").glob("*.json"))
    bodies = json.loads(files[0].read_text())["bodies"]
    joints = np.array([np.reshape(b["joints19"], (19, 4))[:, :3] for b in bodies]) / 100.0
    centre = joints.reshape(-1, 3).mean(0)
    centre[1] = joints[:, [8, 14], 1].max()  # COCO-19: 8 = left ankle, 14 = right ankle
    return rig, Stage(centre, np.array([0.0, -1.0, 0.0]))


def ring_rig(n_views: int, seed: int,
             radius: tuple[float, float] = (3.0, 5.5)) -> tuple[Rig, Stage]:
    """``n_views`` 1280x720 cameras around the origin (z up): evenly spread azimuths with
    random jitter (2 cameras: 70-110 degrees apart), random radii, heights and focal
    lengths, looking at the body centre; seeded."""
    rng = np.random.default_rng(seed)
    spacing = 2 * np.pi / n_views  # evenly spread, each jittered by up to +-30% of a step
    base = rng.uniform(0, 2 * np.pi) + spacing * (np.arange(n_views)
                                                  + rng.uniform(-0.3, 0.3, n_views))
    if n_views == 2:  # two opposite cameras cannot triangulate the body's mid-plane well
        base[1] = base[0] + rng.uniform(0.4, 0.6) * np.pi
    cams = []
    for i, a in enumerate(base):
        r = rng.uniform(*radius)
        centre = np.array([r * np.cos(a), r * np.sin(a), rng.uniform(1.0, 2.8)])
        target = np.array([rng.normal(0, 0.2), rng.normal(0, 0.2), 1.0])
        cams.append(look_at_camera(f"cam{i}", centre, target, f=float(rng.uniform(900, 1500)),
                                   size=(1280, 720)))
    return Rig(cams, f"ring{n_views}-seed{seed}"), Stage(np.zeros(3), np.array([0.0, 0.0, 1.0]))


def place_motion(joints_yup: np.ndarray, stage: Stage, yaw: float) -> np.ndarray:
    """Put CMU motion [F, J, 3] (Y up, metres) on ``stage``: rotate by ``yaw`` (radians)
    about the vertical, centre the mean horizontal position on the stage centre and rest the
    lowest point of the take on the floor. Returns [F, J, 3] in the rig's world frame."""
    X = np.asarray(joints_yup, dtype=float)
    c, s = np.cos(yaw), np.sin(yaw)
    # CMU (x, y, z) with y up -> local z-up frame (x, -z, y), then yaw about z.
    local = np.stack([X[..., 0], -X[..., 2], X[..., 1]], -1)
    Rz = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])
    local = local @ Rz.T
    mean_xy = np.nanmean(local[..., :2].reshape(-1, 2), 0)
    local[..., :2] -= mean_xy
    local[..., 2] -= np.nanmin(local[..., 2])
    up = stage.up / np.linalg.norm(stage.up)
    # Orthonormal basis (e1, e2, up) of the world frame with e1 as close to world x as possible.
    ref = np.array([1.0, 0, 0]) if abs(up[0]) < 0.9 else np.array([0, 1.0, 0])
    e1 = ref - up * (ref @ up)
    e1 /= np.linalg.norm(e1)
    e2 = np.cross(up, e1)
    return (stage.centre + local[..., :1] * e1 + local[..., 1:2] * e2 + local[..., 2:3] * up)
