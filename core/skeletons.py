"""Joint sets (detector / dataset skeletons) and the canonical SkelSplat mocap skeleton.

Every joint set knows its joint names, left/right pairs, bones, and how to build the
canonical skeleton from its joints (each canonical joint is the mean of one or more
source joints). Downstream code (fit output, armature, exports) speaks canonical names.

Canonical skeleton ``skelsplat`` (21 joints, ``snake_case``, ``left_``/``right_``):
``pelvis`` (root, mid-hips) → hips → knees → ankles → heels / toes (big toe);
``pelvis`` → ``neck`` (mid-shoulders) → ``head`` (mid-ears, else nose) → ``head_top`` / ``nose``;
``neck`` → shoulders → elbows → wrists.
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
    "neck", "head", "head_top", "nose",
    "left_shoulder", "left_elbow", "left_wrist",
    "right_shoulder", "right_elbow", "right_wrist",
)

#: Parent of each canonical joint (``None`` for the root), the armature hierarchy.
CANONICAL_PARENTS: dict[str, str | None] = {
    "pelvis": None,
    "left_hip": "pelvis", "left_knee": "left_hip", "left_ankle": "left_knee",
    "left_heel": "left_ankle", "left_toe": "left_ankle",
    "right_hip": "pelvis", "right_knee": "right_hip", "right_ankle": "right_knee",
    "right_heel": "right_ankle", "right_toe": "right_ankle",
    "neck": "pelvis", "head": "neck", "head_top": "head", "nose": "head",
    "left_shoulder": "neck", "left_elbow": "left_shoulder", "left_wrist": "left_elbow",
    "right_shoulder": "neck", "right_elbow": "right_shoulder", "right_wrist": "right_elbow",
}


def _lr(pairs: list[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    return tuple(pairs)


def _canonical_set() -> JointSet:
    bones = tuple((p, c) for c, p in CANONICAL_PARENTS.items() if p is not None)
    pairs = tuple((c, "right_" + c[5:]) for c in CANONICAL_JOINTS if c.startswith("left_"))
    return JointSet("skelsplat", CANONICAL_JOINTS, bones, pairs,
                    {c: (c,) for c in CANONICAL_JOINTS},
                    "SkelSplat canonical mocap skeleton (21 joints)")


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
           for j in ("hip", "knee", "ankle", "heel", "shoulder", "elbow", "wrist")},
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
           for j in ("hip", "knee", "ankle", "shoulder", "elbow", "wrist")},
    }
    return JointSet("coco_17", _COCO_17, bones, pairs, canonical, "COCO-17 keypoints")


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
