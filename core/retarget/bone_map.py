"""Bone maps: which bone of a target armature plays each role of our canonical skeleton.

A role is one rigid piece of the body the capture can drive (``hips``, ``upper_arm.L``...);
:data:`ROLES` lists them, :data:`ROLE_SEGMENTS` says which canonical joints give each role
its direction. ``root`` is optional: the bone that carries the horizontal/vertical motion
when it is not the hips bone (Rigify's ``torso``). A :class:`BoneMap` is a plain
role -> bone-name dict plus a name; presets exist for Rigify (meta-rig and generated rig,
whose FK controls are driven), Mixamo, the UE5 Mannequin and our own baked skeleton, and
:func:`guess_bone_map` maps any other armature from its bone names and rest pose. Maps are
saved and loaded as JSON (``{"format": "skelsplat-bone-map", "version": 1, "name",
"bones": {role: bone}}``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import SkelsplatError

SIDES = (".L", ".R")
_CENTRE = ("root", "hips", "spine", "chest", "upper_chest", "neck", "head")
_LIMB = ("shoulder", "upper_arm", "forearm", "hand", "thigh", "shin", "foot", "toe")
#: Every role a bone map may fill, centre line first, then ``<limb>.L`` / ``<limb>.R``.
ROLES: tuple[str, ...] = (*_CENTRE, *(f"{r}{s}" for s in SIDES for r in _LIMB))

#: Role -> (start, end) canonical joints whose segment gives the role's direction
#: (``left``/``right`` for ``.L``/``.R``); roles without one follow their parent.
ROLE_SEGMENTS: dict[str, tuple[str, str]] = {
    "hips": ("pelvis", "neck"), "spine": ("pelvis", "neck"), "chest": ("pelvis", "neck"),
    "upper_chest": ("pelvis", "neck"), "neck": ("neck", "head"), "head": ("head", "head_top"),
    **{f"{r}{s}": (f"{side}_{a}", f"{side}_{b}") for s, side in (
        (".L", "left"), (".R", "right")) for r, a, b in (
        ("shoulder", "shoulder", "shoulder"), ("upper_arm", "shoulder", "elbow"),
        ("forearm", "elbow", "wrist"), ("thigh", "hip", "knee"), ("shin", "knee", "ankle"),
        ("foot", "ankle", "toe"))},
}
ROLE_SEGMENTS["shoulder.L"] = ("neck", "left_shoulder")
ROLE_SEGMENTS["shoulder.R"] = ("neck", "right_shoulder")

#: Limb roles whose direction the goals measure (segment from this bone to the next role).
LIMB_ROLES: tuple[str, ...] = tuple(f"{r}{s}" for s in SIDES
                                    for r in ("upper_arm", "forearm", "thigh", "shin"))

BONE_MAP_FORMAT = "skelsplat-bone-map"


@dataclass
class BoneMap:
    """Role -> target bone name (missing roles are not driven).

    Attributes:
        name: preset or user name.
        bones: role (one of :data:`ROLES`) -> bone name.
        settings: extra per-rig switches (e.g. Rigify's IK/FK properties to set to FK).
    """

    name: str
    bones: dict[str, str] = field(default_factory=dict)
    settings: dict[str, dict[str, float]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        unknown = sorted(set(self.bones) - set(ROLES))
        if unknown:
            raise SkelsplatError(f"bone map {self.name!r}: unknown roles {unknown} "
                                 f"(expected some of {', '.join(ROLES)})")
        self.bones = {r: str(b) for r, b in self.bones.items() if b}

    def missing(self, bone_names: list[str] | set[str]) -> list[str]:
        """Roles whose bone is not in ``bone_names``."""
        have = set(bone_names)
        return [r for r, b in self.bones.items() if b not in have]

    def check(self, bone_names: list[str] | set[str], where: str = "the target") -> None:
        """Raise a clear error when the map names bones ``where`` lacks or misses the hips."""
        missing = self.missing(bone_names)
        if missing:
            pairs = ", ".join(f"{r} -> {self.bones[r]!r}" for r in missing[:6])
            raise SkelsplatError(f"bone map {self.name!r}: {where} has no bone for {pairs}; "
                                 "fix the map (Retarget panel) or pick another preset")
        if "hips" not in self.bones:
            raise SkelsplatError(f"bone map {self.name!r}: no bone for the 'hips' role")

    def to_json(self) -> dict:
        return {"format": BONE_MAP_FORMAT, "version": 1, "name": self.name,
                "bones": {r: self.bones[r] for r in ROLES if r in self.bones},
                "settings": self.settings}

    def save(self, path: str | Path, overwrite: bool = False) -> Path:
        """Write the map as JSON (refuses to clobber unless ``overwrite``)."""
        path = Path(path)
        if path.exists() and not overwrite:
            raise SkelsplatError(f"{path} exists; pass overwrite=True to replace it")
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(json.dumps(self.to_json(), indent=1))
        tmp.replace(path)
        return path

    @classmethod
    def load(cls, path: str | Path) -> BoneMap:
        """Read a map written by :meth:`save`."""
        path = Path(path)
        try:
            doc = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise SkelsplatError(f"{path}: not a readable bone-map JSON file ({exc})") from None
        if not isinstance(doc, dict) or doc.get("format") != BONE_MAP_FORMAT:
            raise SkelsplatError(f"{path}: expected a JSON object with "
                                 f"\"format\": \"{BONE_MAP_FORMAT}\"")
        bones = doc.get("bones")
        if not isinstance(bones, dict):
            raise SkelsplatError(f"{path}: 'bones' must be an object role -> bone name")
        return cls(str(doc.get("name", path.stem)), dict(bones), dict(doc.get("settings", {})))


# ----------------------------------------------------------------------------- presets
def _sided(template: dict[str, str], left: str, right: str) -> dict[str, str]:
    """Expand ``{"upper_arm": "Left{}Arm"}``-style templates: ``{}`` -> side token."""
    out = {}
    for role, name in template.items():
        out[role + ".L"] = name.format(left)
        out[role + ".R"] = name.format(right)
    return out


def _mixamo() -> BoneMap:
    p = "mixamorig:"
    limbs = {"shoulder": p + "{}Shoulder", "upper_arm": p + "{}Arm", "forearm": p + "{}ForeArm",
             "hand": p + "{}Hand", "thigh": p + "{}UpLeg", "shin": p + "{}Leg",
             "foot": p + "{}Foot", "toe": p + "{}ToeBase"}
    return BoneMap("mixamo", {"hips": p + "Hips", "spine": p + "Spine", "chest": p + "Spine1",
                              "upper_chest": p + "Spine2", "neck": p + "Neck", "head": p + "Head",
                              **_sided(limbs, "Left", "Right")})


def _ue5() -> BoneMap:
    limbs = {"shoulder": "clavicle_{}", "upper_arm": "upperarm_{}", "forearm": "lowerarm_{}",
             "hand": "hand_{}", "thigh": "thigh_{}", "shin": "calf_{}", "foot": "foot_{}",
             "toe": "ball_{}"}
    return BoneMap("ue5_mannequin", {"hips": "pelvis", "spine": "spine_01", "chest": "spine_03",
                                     "upper_chest": "spine_05", "neck": "neck_01",
                                     "head": "head", **_sided(limbs, "l", "r")})


def _rigify_meta() -> BoneMap:
    limbs = {r: r + "{}" for r in _LIMB}
    return BoneMap("rigify_metarig", {"hips": "spine", "spine": "spine.001",
                                      "chest": "spine.002", "upper_chest": "spine.003",
                                      "neck": "spine.004", "head": "spine.006",
                                      **_sided(limbs, ".L", ".R")})


def _rigify_rig() -> BoneMap:
    limbs = {"shoulder": "shoulder{}", "upper_arm": "upper_arm_fk{}",
             "forearm": "forearm_fk{}", "hand": "hand_fk{}", "thigh": "thigh_fk{}",
             "shin": "shin_fk{}", "foot": "foot_fk{}", "toe": "toe_fk{}"}
    fk = {f"{b}{s}": {"IK_FK": 1.0} for b in ("upper_arm_parent", "thigh_parent") for s in SIDES}
    return BoneMap("rigify", {"root": "torso", "hips": "hips", "chest": "chest",
                              "neck": "neck", "head": "head", **_sided(limbs, ".L", ".R")},
                   settings=fk)


def _own() -> BoneMap:
    # Our bones sit on the joints (head at the joint, aiming at the next one), with helper
    # bones ``spine`` (pelvis -> neck) and ``<side>_clavicle`` (neck -> shoulder).
    limbs = {"shoulder": "{}_clavicle", "upper_arm": "{}_shoulder", "forearm": "{}_elbow",
             "hand": "{}_wrist", "thigh": "{}_hip", "shin": "{}_knee", "foot": "{}_ankle"}
    return BoneMap("skelsplat", {"hips": "pelvis", "spine": "spine", "neck": "neck",
                                 "head": "head", **_sided(limbs, "left", "right")})


PRESETS = {"rigify": _rigify_rig, "rigify_metarig": _rigify_meta, "mixamo": _mixamo,
           "ue5_mannequin": _ue5, "skelsplat": _own}
#: Preset names in the order the panel and ``--map`` list them (``auto`` guesses).
PRESET_NAMES: tuple[str, ...] = ("auto", *PRESETS)


def preset(name: str) -> BoneMap:
    """A built-in preset by name (see :data:`PRESET_NAMES`; ``auto`` needs the armature)."""
    if name not in PRESETS:
        raise SkelsplatError(f"unknown bone-map preset {name!r}; expected one of "
                             f"{', '.join(PRESETS)}, 'auto', or a .json bone map")
    return PRESETS[name]()


def detect_preset(bone_names: list[str] | set[str]) -> str | None:
    """The preset whose bones all exist in ``bone_names`` (most roles first), else None."""
    have = set(bone_names)
    ranked = sorted(PRESETS, key=lambda n: -len(PRESETS[n]().bones))
    for name in ranked:
        bm = PRESETS[name]()
        if not bm.missing(have):
            return name
    return None


# ----------------------------------------------------------------------------- guessing
_SIDE_PATTERNS = (
    (re.compile(r"(^|[^a-z])(left|l)([^a-z]|$)"), ".L"),
    (re.compile(r"(^|[^a-z])(right|r)([^a-z]|$)"), ".R"),
)
#: Role -> keywords (lower case, no separators) that name the bone; first match wins.
_KEYWORDS: dict[str, tuple[str, ...]] = {
    "toe": ("toebase", "toe", "ball"),
    "foot": ("foot", "ankle"),
    "shin": ("shin", "calf", "lowerleg", "knee", "leg"),
    "thigh": ("thigh", "upleg", "upperleg", "femur", "hip"),
    "hand": ("hand", "wrist"),
    "forearm": ("forearm", "lowerarm", "elbow"),
    "upper_arm": ("upperarm", "uparm", "arm", "humerus"),
    "shoulder": ("clavicle", "shoulder", "collar"),
    "head": ("head",),
    "neck": ("neck",),
    "hips": ("hips", "pelvis", "hip", "root"),
}
_SKIP = re.compile(r"(twist|roll|end|ik|pole|target|thumb|index|middle|ring|pinky|finger|"
                   r"mch|org|def|tweak|jaw|eye|ear|leaf|nub|top|prop|weapon|socket|"
                   r"metacarpal)")


def _side_of(name: str) -> str:
    low = re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()
    low = low.replace(".", "_").replace(":", "_").replace("-", "_").replace(" ", "_")
    for pattern, side in _SIDE_PATTERNS:
        if pattern.search(low):
            return side
    return ""


def _plain(name: str) -> str:
    low = name.split(":")[-1].lower()
    low = re.sub(r"(^|[._\- ])(left|right|l|r)(?=$|[._\- ])", " ", low)
    low = re.sub(r"^(left|right)|(left|right)$", "", low)
    low = re.sub(r"^(left|right)(?=[a-z])", "", low)
    return re.sub(r"[^a-z0-9]", "", low)


def _digits(name: str) -> int:
    nums = re.findall(r"\d+", name.split(":")[-1])
    return int(nums[-1]) if nums else 0


def guess_bone_map(bone_names: list[str], parents: list[int], heads: np.ndarray,
                   name: str = "auto") -> BoneMap:
    """Guess the role of each bone from its name and the rest pose.

    Args:
        bone_names: B bone names.
        parents: B parent indices (-1 for roots), parents before children.
        heads: [B, 3] rest head positions (armature space; used to find left/right when the
            names do not say, and the hips as the bone whose legs and spine branch).
        name: name of the resulting map.

    Returns:
        a :class:`BoneMap`; roles it cannot place are left out (the panel shows them empty).
    """
    heads = np.asarray(heads, dtype=float).reshape(-1, 3)
    n = len(bone_names)
    depth = np.zeros(n, int)
    for b in range(n):
        depth[b] = 0 if parents[b] < 0 else depth[parents[b]] + 1
    bones: dict[str, str] = {}
    taken: set[int] = set()
    plains = [_plain(b) for b in bone_names]
    sides = [_side_of(b) for b in bone_names]

    # Sides from the rest pose where the name does not tell: +x is the character's left
    # in Blender (front view), so a bone far off the midline on +x is left.
    width = float(np.ptp(heads[:, 0])) if n else 0.0
    for b in range(n):
        if not sides[b] and width > 0 and abs(heads[b, 0]) > 0.05 * width and any(
                k in plains[b] for k in ("arm", "leg", "hand", "foot", "shoulder", "clav")):
            sides[b] = ".L" if heads[b, 0] > 0 else ".R"

    def pick(role: str, side: str, keywords: tuple[str, ...], exclude_spine: bool = True
             ) -> int | None:
        for kw in keywords:
            cands = [b for b in range(n) if b not in taken and sides[b] == side
                     and kw in plains[b] and not _SKIP.search(plains[b].replace(kw, ""))
                     and not _SKIP.fullmatch(plains[b])]
            if kw == "arm":
                cands = [b for b in cands if "fore" not in plains[b] and "lower" not in
                         plains[b]]
            if kw == "leg":
                cands = [b for b in cands if "up" not in plains[b] and "upper" not in
                         plains[b]]
            if cands:
                return min(cands, key=lambda b: (depth[b], len(plains[b]), _digits(
                    bone_names[b])))
        return None

    for role in ("toe", "foot", "hand", "forearm", "shin", "thigh", "upper_arm", "shoulder"):
        for side in SIDES:
            b = pick(role, side, _KEYWORDS[role])
            if b is not None:
                bones[role + side] = bone_names[b]
                taken.add(b)
    for role in ("head", "neck"):
        b = pick(role, "", _KEYWORDS[role])
        if b is not None:
            bones[role] = bone_names[b]
            taken.add(b)

    def ancestors(b: int) -> list[int]:
        out = []
        while parents[b] >= 0:
            b = parents[b]
            out.append(b)
        return out

    idx = {b: i for i, b in enumerate(bone_names)}
    legs = [idx[bones[r]] for r in ("thigh.L", "thigh.R") if r in bones]
    hips = pick("hips", "", _KEYWORDS["hips"])
    if hips is None and len(legs) == 2:  # the deepest common ancestor of the two thighs
        common = [a for a in ancestors(legs[0]) if a in ancestors(legs[1])]
        hips = common[0] if common else None
    if hips is not None:
        bones["hips"] = bone_names[hips]
        taken.add(hips)
    # Spine: the chain from the hips up to the neck (or the shoulders' common ancestor).
    top = idx.get(bones.get("neck", ""))
    if top is None and "shoulder.L" in bones and "shoulder.R" in bones:
        a, b = ancestors(idx[bones["shoulder.L"]]), ancestors(idx[bones["shoulder.R"]])
        common = [x for x in a if x in b]
        top = common[0] if common else None
    if top is not None and hips is not None:
        chain = [a for a in ancestors(top) if a != hips and hips in ancestors(a)]
        chain = [a for a in reversed(chain) if a not in taken]  # hips -> neck order
        if "neck" not in bones:
            chain.append(top)
        for role, k in zip(("spine", "chest", "upper_chest"), _spread(len(chain)), strict=False):
            bones[role] = bone_names[chain[k]]
    return BoneMap(name, bones)


def _spread(n: int) -> list[int]:
    """Indices of up to 3 spine roles (spine, chest, upper chest) spread along ``n`` bones."""
    if n <= 3:
        return list(range(n))
    return [0, (n - 1) // 2, n - 1]


def map_accuracy(guess: BoneMap, truth: BoneMap) -> float:
    """Fraction of ``truth``'s roles the guess maps to the same bone."""
    if not truth.bones:
        return 1.0
    return sum(guess.bones.get(r) == b for r, b in truth.bones.items()) / len(truth.bones)
