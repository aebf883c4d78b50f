"""Joint sets (detector / dataset skeletons) and the canonical SkelSplat mocap skeleton.

Every joint set knows its joint names, left/right pairs, bones, and how to build the
canonical skeleton from its joints (each canonical joint is the mean of one or more
source joints). Downstream code (fit output, armature, exports) speaks canonical names.

Canonical skeleton ``skelsplat`` (31 joints, ``snake_case``, ``left_``/``right_``):
``pelvis`` (root, mid-hips) → hips → knees → ankles → heels / toes (big toe);
``pelvis`` → ``neck`` (mid-shoulders) → ``head`` (mid-ears, else nose) → ``head_top`` / ``nose``
/ eyes / ears; ``neck`` → shoulders → elbows → wrists → index / pinky / thumb (hand points,
where the joint set has them: they fix the hand's orientation, as eyes / ears / nose fix the
head's and heel / toe the foot's).

Registered sets (aliases in :func:`get_joint_set`): ``skelsplat``, ``body_25``, ``body_25b``,
``coco_17``, ``halpe_26``, ``blazepose_33``, ``h36m_17``, ``shelf_15``, ``panoptic_coco19``
and ``skel_19`` (4D Association's output). Canonical rules shared by the sets: ``pelvis`` is
the set's mid-hip joint or the mean of the hips; ``neck`` is the set's neck when it sits
between the shoulders (BODY_25, HALPE, Panoptic, SKEL19, H36M thorax), else the mean of the
shoulders; ``head`` is the mean of the ears (or of the two head joints of Shelf/H36M);
``*_toe`` is the big toe (BlazePose: foot index).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .errors import SkelsplatError


@dataclass(frozen=True)
class JointSet:
    """A named list of joints.

    Attributes:
        name: registry key, e.g. ``"body_25"``.
        joints: joint names in the order of the detector / dataset.
        bones: (parent, child) joint-name pairs drawn as limbs.
        pairs: (left, right) joint-name pairs swapped by a mirror.
        canonical: canonical joint name -> source joint names whose mean it is.
        description: where the layout comes from.
    """

    name: str
    joints: tuple[str, ...]
    bones: tuple[tuple[str, str], ...]
    pairs: tuple[tuple[str, str], ...] = ()
    canonical: dict[str, tuple[str, ...]] = field(default_factory=dict)
    description: str = ""

    def __post_init__(self) -> None:
        names = set(self.joints)
        if len(names) != len(self.joints):
            raise ValueError(f"joint set {self.name}: duplicate joint names")
        for a, b in (*self.bones, *self.pairs):
            if a not in names or b not in names:
                raise ValueError(f"joint set {self.name}: unknown joint in pair ({a}, {b})")
        for c, srcs in self.canonical.items():
            if c not in CANONICAL_JOINTS:
                raise ValueError(f"joint set {self.name}: {c!r} is not a canonical joint")
            for s in srcs:
                if s not in names:
                    raise ValueError(f"joint set {self.name}: unknown source joint {s!r}")

    @property
    def n(self) -> int:
        return len(self.joints)

    def index(self, joint: str) -> int:
        try:
            return self.joints.index(joint)
        except ValueError:
            raise KeyError(f"joint set {self.name} has no joint {joint!r}") from None

    @property
    def bone_indices(self) -> np.ndarray:
        """[B, 2] int indices of bone endpoints."""
        return np.array([(self.index(a), self.index(b)) for a, b in self.bones], dtype=int)

    @property
    def pair_indices(self) -> np.ndarray:
        """[P, 2] int indices of (left, right) pairs."""
        return np.array([(self.index(a), self.index(b)) for a, b in self.pairs],
                        dtype=int).reshape(-1, 2)

    def flip_permutation(self) -> np.ndarray:
        """[J] permutation that swaps every left joint with its right twin."""
        perm = np.arange(self.n)
        for a, b in self.pair_indices:
            perm[a], perm[b] = b, a
        return perm

    def canonical_weights(self) -> tuple[np.ndarray, list[str]]:
        """Linear map from this set to the canonical joints it can provide.

        Returns:
            weights [Jc, J] (rows sum to 1) and the Jc canonical names, in canonical order.
        """
        names = [c for c in CANONICAL_JOINTS if c in self.canonical]
        w = np.zeros((len(names), self.n))
        for r, c in enumerate(names):
            srcs = self.canonical[c]
            for s in srcs:
                w[r, self.index(s)] += 1.0 / len(srcs)
        return w, names


# ----------------------------------------------------------------------------- canonical
CANONICAL_JOINTS: tuple[str, ...] = (
    "pelvis",
    "left_hip", "left_knee", "left_ankle", "left_heel", "left_toe",
    "right_hip", "right_knee", "right_ankle", "right_heel", "right_toe",
    "neck", "head", "head_top", "nose", "left_eye", "right_eye", "left_ear", "right_ear",
    "left_shoulder", "left_elbow", "left_wrist", "left_index", "left_pinky", "left_thumb",
    "right_shoulder", "right_elbow", "right_wrist", "right_index", "right_pinky", "right_thumb",
)

#: Parent of each canonical joint (``None`` for the root), the armature hierarchy.
CANONICAL_PARENTS: dict[str, str | None] = {
    "pelvis": None,
    "left_hip": "pelvis", "left_knee": "left_hip", "left_ankle": "left_knee",
    "left_heel": "left_ankle", "left_toe": "left_ankle",
    "right_hip": "pelvis", "right_knee": "right_hip", "right_ankle": "right_knee",
    "right_heel": "right_ankle", "right_toe": "right_ankle",
    "neck": "pelvis", "head": "neck", "head_top": "head", "nose": "head",
    "left_eye": "head", "right_eye": "head", "left_ear": "head", "right_ear": "head",
    "left_shoulder": "neck", "left_elbow": "left_shoulder", "left_wrist": "left_elbow",
    "left_index": "left_wrist", "left_pinky": "left_wrist", "left_thumb": "left_wrist",
    "right_shoulder": "neck", "right_elbow": "right_shoulder", "right_wrist": "right_elbow",
    "right_index": "right_wrist", "right_pinky": "right_wrist", "right_thumb": "right_wrist",
}


def _lr(pairs: list[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    return tuple(pairs)


def _canonical_set() -> JointSet:
    bones = tuple((p, c) for c, p in CANONICAL_PARENTS.items() if p is not None)
    pairs = tuple((c, "right_" + c[5:]) for c in CANONICAL_JOINTS if c.startswith("left_"))
    return JointSet("skelsplat", CANONICAL_JOINTS, bones, pairs,
                    {c: (c,) for c in CANONICAL_JOINTS},
                    "SkelSplat canonical mocap skeleton (31 joints)")


_BODY_25 = (
    "nose", "neck", "right_shoulder", "right_elbow", "right_wrist", "left_shoulder",
    "left_elbow", "left_wrist", "mid_hip", "right_hip", "right_knee", "right_ankle",
    "left_hip", "left_knee", "left_ankle", "right_eye", "left_eye", "right_ear", "left_ear",
    "left_big_toe", "left_small_toe", "left_heel", "right_big_toe", "right_small_toe",
    "right_heel",
)


def _body_25() -> JointSet:
    bones = (
        ("neck", "nose"), ("neck", "right_shoulder"), ("right_shoulder", "right_elbow"),
        ("right_elbow", "right_wrist"), ("neck", "left_shoulder"),
        ("left_shoulder", "left_elbow"), ("left_elbow", "left_wrist"), ("neck", "mid_hip"),
        ("mid_hip", "right_hip"), ("right_hip", "right_knee"), ("right_knee", "right_ankle"),
        ("mid_hip", "left_hip"), ("left_hip", "left_knee"), ("left_knee", "left_ankle"),
        ("nose", "right_eye"), ("right_eye", "right_ear"), ("nose", "left_eye"),
        ("left_eye", "left_ear"), ("left_ankle", "left_big_toe"),
        ("left_big_toe", "left_small_toe"), ("left_ankle", "left_heel"),
        ("right_ankle", "right_big_toe"), ("right_big_toe", "right_small_toe"),
        ("right_ankle", "right_heel"),
    )
    pairs = _lr([(j, "right_" + j[5:]) for j in _BODY_25 if j.startswith("left_")])
    canonical = {
        "pelvis": ("mid_hip",), "neck": ("neck",), "nose": ("nose",),
        "head": ("left_ear", "right_ear"),
        "left_toe": ("left_big_toe",), "right_toe": ("right_big_toe",),
        **{s + j: (s + j,) for s in ("left_", "right_")
           for j in ("hip", "knee", "ankle", "heel", "shoulder", "elbow", "wrist", "eye",
                     "ear")},
    }
    return JointSet("body_25", _BODY_25, bones, pairs, canonical,
                    "OpenPose BODY_25 (25 joints, with feet)")


_COCO_17 = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder",
    "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip",
    "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
)


def _coco_17() -> JointSet:
    bones = (
        ("left_ankle", "left_knee"), ("left_knee", "left_hip"), ("right_ankle", "right_knee"),
        ("right_knee", "right_hip"), ("left_hip", "right_hip"), ("left_shoulder", "left_hip"),
        ("right_shoulder", "right_hip"), ("left_shoulder", "right_shoulder"),
        ("left_shoulder", "left_elbow"), ("right_shoulder", "right_elbow"),
        ("left_elbow", "left_wrist"), ("right_elbow", "right_wrist"), ("left_eye", "right_eye"),
        ("nose", "left_eye"), ("nose", "right_eye"), ("left_eye", "left_ear"),
        ("right_eye", "right_ear"),
    )
    pairs = _lr([(j, "right_" + j[5:]) for j in _COCO_17 if j.startswith("left_")])
    canonical = {
        "pelvis": ("left_hip", "right_hip"), "neck": ("left_shoulder", "right_shoulder"),
        "nose": ("nose",), "head": ("left_ear", "right_ear"),
        **{s + j: (s + j,) for s in ("left_", "right_")
           for j in ("hip", "knee", "ankle", "shoulder", "elbow", "wrist", "eye", "ear")},
    }
    return JointSet("coco_17", _COCO_17, bones, pairs, canonical, "COCO-17 keypoints")


def _pairs_of(joints: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """(left_x, right_x) for every ``left_`` joint whose ``right_`` twin exists."""
    return tuple((j, "right_" + j[5:]) for j in joints
                 if j.startswith("left_") and "right_" + j[5:] in joints)


def _sides(*names: str) -> dict[str, tuple[str, ...]]:
    """Canonical ``left_x``/``right_x`` from same-named source joints."""
    return {s + n: (s + n,) for s in ("left_", "right_") for n in names}


_LIMBS = ("hip", "knee", "ankle", "shoulder", "elbow", "wrist")
_ARM_LEG_BONES = tuple(
    (s + a, s + b) for s in ("left_", "right_")
    for a, b in (("shoulder", "elbow"), ("elbow", "wrist"), ("hip", "knee"), ("knee", "ankle")))
_FACE_BONES = (("nose", "left_eye"), ("nose", "right_eye"), ("left_eye", "left_ear"),
               ("right_eye", "right_ear"))
_FOOT_BONES = tuple((s + a, s + b) for s in ("left_", "right_") for a, b in (
    ("ankle", "big_toe"), ("big_toe", "small_toe"), ("ankle", "heel")))

_BODY_25B = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder",
    "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip",
    "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle", "upper_neck",
    "head_top", "left_big_toe", "left_small_toe", "left_heel", "right_big_toe",
    "right_small_toe", "right_heel",
)


def _body_25b() -> JointSet:
    bones = (*_ARM_LEG_BONES, *_FACE_BONES, *_FOOT_BONES, ("left_hip", "right_hip"),
             ("left_shoulder", "left_hip"), ("right_shoulder", "right_hip"),
             ("upper_neck", "left_shoulder"), ("upper_neck", "right_shoulder"),
             ("upper_neck", "nose"), ("upper_neck", "head_top"))
    canonical = {
        "pelvis": ("left_hip", "right_hip"), "neck": ("left_shoulder", "right_shoulder"),
        "head": ("left_ear", "right_ear"), "head_top": ("head_top",), "nose": ("nose",),
        "left_toe": ("left_big_toe",), "right_toe": ("right_big_toe",),
        **_sides(*_LIMBS, "heel", "eye", "ear"),
    }
    return JointSet("body_25b", _BODY_25B, bones, _pairs_of(_BODY_25B), canonical,
                    "OpenPose BODY_25B (COCO order + upper neck, head top, feet)")


_HALPE_26 = (*_COCO_17, "head", "neck", "hip", "left_big_toe", "right_big_toe",
             "left_small_toe", "right_small_toe", "left_heel", "right_heel")


def _halpe_26() -> JointSet:
    bones = (*_ARM_LEG_BONES, *_FACE_BONES, *_FOOT_BONES, ("hip", "left_hip"),
             ("hip", "right_hip"), ("neck", "hip"), ("neck", "left_shoulder"),
             ("neck", "right_shoulder"), ("neck", "nose"), ("nose", "head"))
    canonical = {
        "pelvis": ("hip",), "neck": ("neck",), "head": ("left_ear", "right_ear"),
        "head_top": ("head",), "nose": ("nose",),
        "left_toe": ("left_big_toe",), "right_toe": ("right_big_toe",),
        **_sides(*_LIMBS, "heel", "eye", "ear"),
    }
    return JointSet("halpe_26", _HALPE_26, bones, _pairs_of(_HALPE_26), canonical,
                    "HALPE-26 (COCO-17 + head top, neck, mid-hip, feet; RTMPose/AlphaPose)")


_BLAZEPOSE_33 = (
    "nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye",
    "right_eye_outer", "left_ear", "right_ear", "left_mouth", "right_mouth", "left_shoulder",
    "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_pinky",
    "right_pinky", "left_index", "right_index", "left_thumb", "right_thumb", "left_hip",
    "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle", "left_heel",
    "right_heel", "left_foot_index", "right_foot_index",
)


def _blazepose_33() -> JointSet:
    hand_foot = tuple((s + a, s + b) for s in ("left_", "right_") for a, b in (
        ("wrist", "pinky"), ("wrist", "index"), ("wrist", "thumb"), ("pinky", "index"),
        ("ankle", "heel"), ("heel", "foot_index"), ("ankle", "foot_index"),
        ("eye_inner", "eye"), ("eye", "eye_outer"), ("eye_outer", "ear")))
    bones = (*_ARM_LEG_BONES, *hand_foot, ("nose", "left_eye_inner"),
             ("nose", "right_eye_inner"), ("left_mouth", "right_mouth"),
             ("left_shoulder", "right_shoulder"), ("left_hip", "right_hip"),
             ("left_shoulder", "left_hip"), ("right_shoulder", "right_hip"))
    canonical = {
        "pelvis": ("left_hip", "right_hip"), "neck": ("left_shoulder", "right_shoulder"),
        "head": ("left_ear", "right_ear"), "nose": ("nose",),
        "left_toe": ("left_foot_index",), "right_toe": ("right_foot_index",),
        **_sides(*_LIMBS, "heel", "eye", "ear", "index", "pinky", "thumb"),
    }
    return JointSet("blazepose_33", _BLAZEPOSE_33, bones, _pairs_of(_BLAZEPOSE_33),
                    canonical, "MediaPipe BlazePose (33 landmarks)")


_H36M_17 = (
    "pelvis", "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee", "left_ankle",
    "spine", "thorax", "neck_base", "head_top", "left_shoulder", "left_elbow", "left_wrist",
    "right_shoulder", "right_elbow", "right_wrist",
)


def _h36m_17() -> JointSet:
    bones = (*_ARM_LEG_BONES, ("pelvis", "left_hip"), ("pelvis", "right_hip"),
             ("pelvis", "spine"), ("spine", "thorax"), ("thorax", "neck_base"),
             ("neck_base", "head_top"), ("thorax", "left_shoulder"),
             ("thorax", "right_shoulder"))
    canonical = {
        "pelvis": ("pelvis",), "neck": ("thorax",), "head": ("neck_base", "head_top"),
        "head_top": ("head_top",), **_sides(*_LIMBS),
    }
    return JointSet("h36m_17", _H36M_17, bones, _pairs_of(_H36M_17), canonical,
                    "Human3.6M 17-joint layout (joint 9 'neck/nose' is named neck_base)")


_SHELF_15 = (
    "right_ankle", "right_knee", "right_hip", "left_hip", "left_knee", "left_ankle",
    "right_wrist", "right_elbow", "right_shoulder", "left_shoulder", "left_elbow",
    "left_wrist", "bottom_head", "head_top", "pelvis",
)


def _shelf_15() -> JointSet:
    bones = (*_ARM_LEG_BONES, ("pelvis", "left_hip"), ("pelvis", "right_hip"),
             ("pelvis", "bottom_head"), ("bottom_head", "head_top"),
             ("bottom_head", "left_shoulder"), ("bottom_head", "right_shoulder"))
    canonical = {
        "pelvis": ("pelvis",), "neck": ("left_shoulder", "right_shoulder"),
        "head": ("bottom_head", "head_top"), "head_top": ("head_top",), **_sides(*_LIMBS),
    }
    return JointSet("shelf_15", _SHELF_15, bones, _pairs_of(_SHELF_15), canonical,
                    "Shelf/Campus ground truth (14 joints + pelvis, 4D-Association order)")


_PANOPTIC_19 = (
    "neck", "nose", "body_center", "left_shoulder", "left_elbow", "left_wrist", "left_hip",
    "left_knee", "left_ankle", "right_shoulder", "right_elbow", "right_wrist", "right_hip",
    "right_knee", "right_ankle", "left_eye", "left_ear", "right_eye", "right_ear",
)


def _panoptic_19() -> JointSet:
    bones = (*_ARM_LEG_BONES, *_FACE_BONES, ("neck", "nose"), ("neck", "body_center"),
             ("body_center", "left_hip"), ("body_center", "right_hip"),
             ("neck", "left_shoulder"), ("neck", "right_shoulder"))
    canonical = {
        "pelvis": ("body_center",), "neck": ("neck",), "nose": ("nose",),
        "head": ("left_ear", "right_ear"), **_sides(*_LIMBS, "eye", "ear"),
    }
    return JointSet("panoptic_coco19", _PANOPTIC_19, bones, _pairs_of(_PANOPTIC_19),
                    canonical, "CMU Panoptic COCO-19 (hdPose3d_stage1_coco19)")


#: 4D Association's SKEL19 order (its skel.txt output); each joint is the BODY_25 joint of
#: the same name (mid_hip -> pelvis), as in ``core.bench.shelf.BODY25_TO_SKEL19``.
_SKEL_19 = (
    "pelvis", "neck", "right_hip", "left_hip", "nose", "right_shoulder", "left_shoulder",
    "right_knee", "left_knee", "right_ear", "left_ear", "right_elbow", "left_elbow",
    "right_ankle", "left_ankle", "right_wrist", "left_wrist", "left_big_toe",
    "right_big_toe",
)


def _skel_19() -> JointSet:
    bones = (*_ARM_LEG_BONES, ("pelvis", "left_hip"), ("pelvis", "right_hip"),
             ("pelvis", "neck"), ("neck", "nose"), ("neck", "left_shoulder"),
             ("neck", "right_shoulder"), ("nose", "left_ear"), ("nose", "right_ear"),
             ("left_ankle", "left_big_toe"), ("right_ankle", "right_big_toe"))
    canonical = {
        "pelvis": ("pelvis",), "neck": ("neck",), "nose": ("nose",),
        "head": ("left_ear", "right_ear"), "left_toe": ("left_big_toe",),
        "right_toe": ("right_big_toe",), **_sides(*_LIMBS, "ear"),
    }
    return JointSet("skel_19", _SKEL_19, bones, _pairs_of(_SKEL_19), canonical,
                    "4D Association SKEL19 (BODY_25 subset; its Shelf skel.txt output)")


_REGISTRY: dict[str, JointSet] = {}


def register_joint_set(joint_set: JointSet, *aliases: str) -> None:
    """Add a joint set to the registry under its name and optional aliases."""
    for key in (joint_set.name, *aliases):
        _REGISTRY[key.lower()] = joint_set


def get_joint_set(name: str | JointSet) -> JointSet:
    """Look up a joint set by name or alias (case-insensitive)."""
    if isinstance(name, JointSet):
        return name
    try:
        return _REGISTRY[name.lower().replace("-", "_")]
    except KeyError:
        raise SkelsplatError(f"unknown joint set {name!r}; known: {joint_set_names()}") from None


def joint_set_names() -> list[str]:
    """Registered joint set names (no aliases), sorted."""
    return sorted({js.name for js in _REGISTRY.values()})


def guess_joint_set(n_joints: int) -> JointSet:
    """The joint set implied by a joint count, when it is unambiguous."""
    matches = sorted({js.name for js in _REGISTRY.values() if js.n == n_joints})
    preferred = {25: "body_25", 17: "coco_17", 33: "blazepose_33", 26: "halpe_26"}
    if n_joints in preferred and preferred[n_joints] in matches:
        return _REGISTRY[preferred[n_joints]]
    if len(matches) == 1:
        return _REGISTRY[matches[0]]
    raise SkelsplatError(f"cannot tell the joint set from {n_joints} joints "
                         f"(candidates: {matches or 'none'}); pass the joint set explicitly")


CANONICAL = _canonical_set()
register_joint_set(CANONICAL, "canonical")
register_joint_set(_body_25(), "openpose", "body25")
register_joint_set(_coco_17(), "coco", "coco17")
register_joint_set(_body_25b(), "body25b")
register_joint_set(_halpe_26(), "halpe", "halpe26")
register_joint_set(_blazepose_33(), "blazepose", "mediapipe", "mediapipe_pose")
register_joint_set(_h36m_17(), "h36m", "human36m", "human3.6m")
register_joint_set(_shelf_15(), "shelf", "campus", "shelf15")
register_joint_set(_panoptic_19(), "panoptic", "coco19", "coco_19", "panoptic_19")
register_joint_set(_skel_19(), "skel19", "4d_association")
