"""CMU mocap (ASF/AMC) bones -> detector joint sets (body_25, Shelf-15, canonical).

Body joints are bone end points (hips: ``*hipjoint``, knees: ``*femur``, ankles: ``*tibia``,
shoulders: ``*clavicle``, elbows: ``*humerus``, wrists: ``*radius``). Points that CMU
does not measure are documented approximations built in a head / foot frame:

- head frame: ``up`` = upperneck -> head bone, ``left`` = right -> left shoulder made
  orthogonal to ``up``, ``fwd`` = left x up. Ear centre = upperneck end + 0.6 x head bone;
  ears = ear centre +- 7.0 cm left; eyes = ear centre + 8.5 cm fwd + 2 cm up +- 3.2 cm left;
  nose = ear centre + 10.5 cm fwd - 1 cm up; head top = ear centre + 11 cm up.
- feet: big toe = toes bone end moved 1.5 cm medially; small toe = midpoint of the foot
  (ball) and toes ends moved 3.5 cm laterally; heel = ankle + 6 cm along the shin
  direction - 5 cm along the ankle->toe direction.
- hands: index = hand bone end + 2 cm towards the thumb, pinky = hand bone end - 3.5 cm
  across the palm and 1 cm back, thumb = thumb bone end.
- body_25 ``neck`` = mid-shoulders, ``mid_hip`` = mid-hips (as OpenPose places them).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..skeletons import CANONICAL_JOINTS, get_joint_set
from .amc import CMU_FPS, CMU_SCALE, forward_kinematics, read_amc, read_asf, resample

#: Shelf-15 joint order (``shelf_4dassoc/PROVENANCE.md``).
SHELF15_JOINTS: tuple[str, ...] = (
    "right_ankle", "right_knee", "right_hip", "left_hip", "left_knee", "left_ankle",
    "right_wrist", "right_elbow", "right_shoulder", "left_shoulder", "left_elbow",
    "left_wrist", "bottom_head", "top_head", "pelvis",
)


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-12)


def named_points(bones: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Every named anatomical point we derive from CMU bone ends: name -> [F, 3] metres."""
    p: dict[str, np.ndarray] = {}
    for s, side in (("l", "left_"), ("r", "right_")):
        p[side + "hip"] = bones[s + "hipjoint"]
        p[side + "knee"] = bones[s + "femur"]
        p[side + "ankle"] = bones[s + "tibia"]
        p[side + "shoulder"] = bones[s + "clavicle"]
        p[side + "elbow"] = bones[s + "humerus"]
        p[side + "wrist"] = bones[s + "radius"]
    up = _unit(bones["head"] - bones["upperneck"])
    left = p["left_shoulder"] - p["right_shoulder"]
    left = _unit(left - np.sum(left * up, -1, keepdims=True) * up)
    fwd = np.cross(left, up)
    ear_c = bones["upperneck"] + 0.6 * (bones["head"] - bones["upperneck"])
    p["left_ear"] = ear_c + 0.070 * left
    p["right_ear"] = ear_c - 0.070 * left
    p["left_eye"] = ear_c + 0.085 * fwd + 0.02 * up + 0.032 * left
    p["right_eye"] = ear_c + 0.085 * fwd + 0.02 * up - 0.032 * left
    p["nose"] = ear_c + 0.105 * fwd - 0.01 * up
    p["head"] = ear_c
    p["head_top"] = ear_c + 0.11 * up
    p["bottom_head"] = bones["upperneck"]
    p["neck"] = 0.5 * (p["left_shoulder"] + p["right_shoulder"])
    p["mid_hip"] = 0.5 * (p["left_hip"] + p["right_hip"])
    p["pelvis"] = p["mid_hip"]
    hip_left = _unit(p["left_hip"] - p["right_hip"])
    for s, side, sign in (("l", "left_", 1.0), ("r", "right_", -1.0)):
        ankle, ball, toe = p[side + "ankle"], bones[s + "foot"], bones[s + "toes"]
        lateral = sign * hip_left  # points away from the body's midline
        p[side + "big_toe"] = toe - 0.015 * lateral
        p[side + "small_toe"] = 0.5 * (ball + toe) + 0.035 * lateral
        shin = _unit(ankle - p[side + "knee"])
        p[side + "heel"] = ankle + 0.06 * shin - 0.05 * _unit(toe - ankle)
        p[side + "toe"] = p[side + "big_toe"]
        # Hand (BlazePose-like knuckles): hand bone end +- across the palm, thumb end.
        wrist, knuckles, thumb = p[side + "wrist"], bones[s + "hand"], bones[s + "thumb"]
        along = _unit(knuckles - wrist)
        across = thumb - wrist
        across = _unit(across - np.sum(across * along, -1, keepdims=True) * along)
        p[side + "index"] = knuckles + 0.02 * across
        p[side + "pinky"] = knuckles - 0.035 * across - 0.01 * along
        p[side + "thumb"] = thumb
    return p


def cmu_to_joint_set(bones: dict[str, np.ndarray], joint_set: str) -> np.ndarray:
    """[F, J, 3] joints of ``joint_set`` (``body_25``, ``coco_17``, ``skelsplat``/canonical
    or ``shelf_15``) from CMU bone end points."""
    pts = named_points(bones)
    if joint_set.lower().replace("-", "_") in ("shelf_15", "shelf15", "shelf"):
        names: tuple[str, ...] = SHELF15_JOINTS
    elif joint_set.lower() in ("skelsplat", "canonical"):
        names = CANONICAL_JOINTS
    else:
        names = get_joint_set(joint_set).joints
    return np.stack([pts[n] for n in names], axis=1)


def load_cmu_clip(data_dir: str | Path, clip: str, fps: float = 30.0,
                  joint_set: str = "body_25") -> np.ndarray:
    """Read CMU clip ``"02_01"`` from ``data_dir`` (``<subject>/<subject>.asf`` and
    ``<clip>.amc[.gz]``), run FK, resample 120 Hz -> ``fps`` and map to ``joint_set``.

    Returns:
        [F, J, 3] metres in the CMU world (Y up).
    """
    data_dir = Path(data_dir)
    subject = clip.split("_")[0]
    skel = read_asf(data_dir / subject / f"{subject}.asf")
    amc = data_dir / subject / f"{clip}.amc.gz"
    if not amc.exists():
        amc = amc.with_suffix("")
    bones = forward_kinematics(skel, read_amc(amc, skel), CMU_SCALE)
    joints = cmu_to_joint_set(bones, joint_set)
    return resample(joints, CMU_FPS, fps)
