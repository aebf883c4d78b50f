"""Retarget maths (numpy, no ``bpy``): canonical joints -> poses of any armature's bones.

Approach:
- Every mapped role (see :mod:`.bone_map`) gets a world *delta* rotation ``D`` (rest ->
  pose) and the bone's posed world rotation is ``D @ rest``: the bone keeps its own roll and
  rest orientation, so T- and A-pose rigs both work (the rest segment direction is the
  target's own, whatever its pose).
- Trunk roles (hips, spine, chest, upper chest), neck and head: the frame of their source
  segment (pelvis -> neck, neck -> head, head -> head top) and side line (hip line blended
  into the shoulder line up the spine; the nose gives the head's facing) against the same
  frame built from the target's rest bones.
- Limb roles (clavicle, upper arm, forearm, thigh, shin, foot): the smallest rotation taking
  the segment as the parent carries it onto the source segment, so the segment points
  exactly where the source's points; the upper arm / thigh then twists so its elbow / knee
  hinge matches the source's bend plane (as far as the limb is bent). Hands and toes, and
  every bone the map does not name, keep their rest pose relative to their parent.
- Root motion: the target's pelvis point (mid-thighs) follows the source pelvis scaled by
  the leg-length ratio, heights above the floor scaled the same way; ``in_place`` removes
  the horizontal part. The source floor comes from :func:`core.floor.estimate_floor` and the
  contacts from :func:`core.contacts.detect_contacts`.
- Feet: while the source foot is in contact, the target ankle is held at its mean position
  over the contact (two-bone IK on thigh and shin, blended over a few frames at each end);
  the foot keeps its world rotation. Where the straight leg cannot reach a held ankle
  (toe-off on a target with other proportions) the pelvis dips, smoothly, instead of the
  foot sliding.

Shapes: F frames, J source joints, B target bones, K keyed bones.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..armature import continuous_quaternions, quaternion_from_matrix
from ..contacts import (
    detect_contacts,
    drop_short_runs,
    frames_to_nearest,
    horizontal_speed,
    runs,
)
from ..errors import SkelsplatError
from ..floor import estimate_floor, transform_points
from ..foot_lock import two_bone_ik
from ..orientation import frame_from, normalize, smoothstep, swing, twist_towards
from .bone_map import SIDES, BoneMap

ROOT_MOTIONS = ("keep", "in_place")
_TRUNK_WEIGHT = {"hips": 0.0, "spine": 1 / 3, "chest": 2 / 3, "upper_chest": 1.0}
#: Role -> roles whose delta it starts from (first mapped one wins).
_ROLE_PARENTS: dict[str, tuple[str, ...]] = {
    "neck": ("upper_chest", "chest", "spine", "hips"), "head": ("neck", "upper_chest", "chest",
                                                                "spine", "hips"),
    **{f"{r}{s}": p for s in SIDES for r, p in (
        ("shoulder", ("upper_chest", "chest", "spine", "hips")),
        ("upper_arm", (f"shoulder{s}", "upper_chest", "chest", "spine", "hips")),
        ("forearm", (f"upper_arm{s}",)), ("hand", (f"forearm{s}",)),
        ("thigh", ("hips",)), ("shin", (f"thigh{s}",)), ("foot", (f"shin{s}",)),
        ("toe", (f"foot{s}",)))},
}
#: Role -> the role whose head ends its segment in the target's rest pose.
_SEGMENT_END: dict[str, str] = {
    **{f"{a}{s}": f"{b}{s}" for s in SIDES for a, b in (
        ("shoulder", "upper_arm"), ("upper_arm", "forearm"), ("forearm", "hand"),
        ("thigh", "shin"), ("shin", "foot"), ("foot", "toe"))},
    "neck": "head",
}
_SOURCE_SEGMENTS: dict[str, tuple[str, str]] = {
    **{f"{r}{s}": (f"{side}_{a}", f"{side}_{b}") for s, side in ((".L", "left"), (".R", "right"))
       for r, a, b in (("upper_arm", "shoulder", "elbow"), ("forearm", "elbow", "wrist"),
                       ("thigh", "hip", "knee"), ("shin", "knee", "ankle"),
                       ("foot", "ankle", "toe"))},
    "shoulder.L": ("neck", "left_shoulder"), "shoulder.R": ("neck", "right_shoulder"),
}
#: Fraction of the straight leg a held ankle may ask for: the rest of the reach is slack
#: for a rig whose constraints put the hips a few millimetres off the numbers.
_REACH = 0.999
_REQUIRED = ("pelvis", "neck", "left_hip", "right_hip", "left_knee", "right_knee",
             "left_ankle", "right_ankle")


@dataclass
class TargetRig:
    """The target armature's rest pose.

    Attributes:
        bone_names: B names, parents before children.
        parents: [B] parent index, -1 for roots.
        rest: [B, 4, 4] rest bone matrices in armature space (Blender ``Bone.matrix_local``).
        world: [4, 4] the armature object's world matrix (uniform scale).
        tails: [B, 3] rest tails in armature space.
    """

    bone_names: list[str]
    parents: np.ndarray
    rest: np.ndarray
    tails: np.ndarray
    world: np.ndarray = field(default_factory=lambda: np.eye(4))

    def index(self, name: str) -> int:
        return self.bone_names.index(name)


@dataclass(frozen=True)
class RetargetOptions:
    """How to retarget.

    Attributes:
        root_motion: ``keep`` (the pelvis travels) or ``in_place`` (horizontal motion removed).
        scale: root-motion scale; 0 uses the leg-length ratio target / source.
        plant_feet: hold feet in contact still (IK on thigh and shin).
        blend_frames: frames over which the planting fades in and out.
        still_speed: a planted source point moving faster than this (m/s) is not held (heel
            strike and toe-off frames the contact detector still counts).
        still_height: nor is one higher than this (m) above its contact level (heel-off).
    """

    root_motion: str = "keep"
    scale: float = 0.0
    plant_feet: bool = True
    blend_frames: int = 3
    still_speed: float = 0.15
    still_height: float = 0.02


@dataclass
class RetargetResult:
    """Keys for the target, plus what the tests and the panel report.

    Attributes:
        bone_names: K keyed bones (mapped bones and the root-motion carrier).
        carrier: the bone that carries the location keys.
        pose: [F, K, 4, 4] wanted armature-space pose matrices (``PoseBone.matrix``).
        locations: [F, K, 3] ``matrix_basis`` translations.
        quaternions: [F, K, 4] ``matrix_basis`` rotations (w, x, y, z), sign-continuous.
        scale: the root-motion scale used.
        contacts: [F, 2] bool, left / right foot in contact in the source.
        held: side (``left``/``right``) -> (K point names, [F, K] bool): the source's foot
            points the target holds still (planted and still).
        source: [F, J, 3] source joints after floor alignment (metres, Z up, floor Z = 0).
        world_heads: [F, B, 3] every bone's posed head in world space (numpy FK).
        pelvis_rest: [3] the target's rest pelvis point (world).
        source_leg: source leg length (m); target_leg: target leg length (world units).
    """

    bone_names: list[str]
    carrier: str
    pose: np.ndarray
    locations: np.ndarray
    quaternions: np.ndarray
    scale: float
    contacts: np.ndarray
    held: dict[str, tuple[list[str], np.ndarray]]
    source: np.ndarray
    world_heads: np.ndarray
    pelvis_rest: np.ndarray
    source_leg: float
    target_leg: float


def _split_world(world: np.ndarray) -> tuple[np.ndarray, float]:
    M = np.asarray(world, dtype=float)[:3, :3]
    s = float(np.cbrt(abs(np.linalg.det(M))))
    if s < 1e-12:
        raise SkelsplatError("the target armature's object has zero scale")
    return M / s, s


def leg_length(points: dict[str, np.ndarray]) -> float:
    """Mean over sides of hip -> knee -> ankle length (points: name -> [..., 3])."""
    out = []
    for side in ("left", "right"):
        h, k, a = (points[f"{side}_{j}"] for j in ("hip", "knee", "ankle"))
        out.append(np.median(np.linalg.norm(k - h, axis=-1) + np.linalg.norm(a - k, axis=-1)))
    return float(np.mean(out))


def _blend_weights(contact: np.ndarray, blend: int) -> np.ndarray:
    """[F] 1 in contact, fading linearly to 0 over ``blend`` frames either side."""
    if not contact.any():
        return np.zeros(len(contact))
    return np.clip(1.0 - frames_to_nearest(contact) / (blend + 1.0), 0.0, 1.0)


def plant_ankle(ankle: np.ndarray, foot_rot: np.ndarray, points: list[str],
                planted: np.ndarray, offsets: dict[str, np.ndarray], blend: int) -> np.ndarray:
    """[F, 3] ankle goals that hold every planted contact point where it was on average
    during its contact, blended in and out over ``blend`` frames.

    Args:
        ankle: [F, 3] posed ankle (foot bone head), world.
        foot_rot: [F, 3, 3] the foot's world delta rotation (kept).
        points: K contact point names (``*_heel``, ``*_toe`` or ``*_ankle``).
        planted: [F, K] bool.
        offsets: point kind (``heel``, ``toe``, ``ankle``) -> [3] rest offset from the ankle.
    """
    F = len(ankle)
    total, weight = np.zeros((F, 3)), np.zeros(F)
    for k, name in enumerate(points):
        off = offsets[name.rsplit("_", 1)[-1]]
        point = ankle + np.einsum("fij,j->fi", foot_rot, off)  # [F, 3]
        spans = runs(planted[:, k])
        if not spans:
            continue
        held = np.empty_like(point)
        centres = np.array([(a + b - 1) / 2 for a, b in spans])
        nearest = np.abs(np.arange(F)[:, None] - centres[None, :]).argmin(axis=1)
        held[:, 2] = point[:, 2]  # hold on the floor plane only; heights come from the legs
        for r, (a, b) in enumerate(spans):
            held[nearest == r, :2] = point[a:b, :2].mean(axis=0)
        w = _blend_weights(planted[:, k], blend)
        total += w[:, None] * (held - point)
        weight += w
    peak = np.clip(weight, 0.0, 1.0)
    return ankle + total / np.maximum(weight, 1e-9)[:, None] * peak[:, None]


def pelvis_dip(hip: np.ndarray, goal: np.ndarray, reach: float) -> np.ndarray:
    """[F] how far (m, >= 0) the hip [F, 3] must come down (world Z) so the ankle goal
    [F, 3] lies within ``reach`` of it (a goal out of reach sideways stays out of reach)."""
    flat = np.linalg.norm(goal[:, :2] - hip[:, :2], axis=-1)
    rise = np.sqrt(np.maximum(reach ** 2 - flat ** 2, 0.0))
    return np.maximum(hip[:, 2] - goal[:, 2] - rise, 0.0)


def smooth_above(x: np.ndarray, half: int) -> np.ndarray:
    """[F] a smooth curve that is nowhere below ``x`` [F]: the running maximum over
    +-``half`` frames, then the running mean over the same window."""
    if half < 1:
        return x.copy()
    pad = np.pad(x, half, mode="edge")
    w = 2 * half + 1
    peak = np.lib.stride_tricks.sliding_window_view(pad, w).max(axis=1)
    return np.convolve(np.pad(peak, half, mode="edge"), np.ones(w) / w, mode="valid")


class _Solver:
    """One retarget: holds the target's rest in world space and the role deltas."""

    def __init__(self, rig: TargetRig, bone_map: BoneMap) -> None:
        self.rig = rig
        self.map = bone_map
        bone_map.check(rig.bone_names)
        self.Rw, self.s = _split_world(rig.world)
        W = np.asarray(rig.world, dtype=float)
        rot = rig.rest[:, :3, :3] / np.linalg.norm(rig.rest[:, :3, :3], axis=1, keepdims=True)
        self.rest_rot = self.Rw @ rot  # [B, 3, 3] world
        self.rest_head = rig.rest[:, :3, 3] @ W[:3, :3].T + W[:3, 3]  # [B, 3]
        self.rest_tail = rig.tails @ W[:3, :3].T + W[:3, 3]
        self.bone = {r: rig.index(b) for r, b in bone_map.bones.items()}
        B = len(rig.bone_names)
        self.depth = np.zeros(B, int)
        for b in range(B):
            p = rig.parents[b]
            if p >= b:
                raise SkelsplatError("target bones must list parents before children")
            self.depth[b] = 0 if p < 0 else self.depth[p] + 1

    # ------------------------------------------------------------------ target rest
    def head(self, role: str) -> np.ndarray:
        return self.rest_head[self.bone[role]]

    def has(self, *roles: str) -> bool:
        return all(r in self.bone for r in roles)

    def segment_end(self, role: str) -> np.ndarray:
        end = _SEGMENT_END.get(role)
        if end is not None and end in self.bone:
            return self.head(end)
        if role in _TRUNK_WEIGHT:
            for top in ("neck", "head"):
                if top in self.bone:
                    return self.head(top)
            if self.has("upper_arm.L", "upper_arm.R"):
                return 0.5 * (self.head("upper_arm.L") + self.head("upper_arm.R"))
        return self.rest_tail[self.bone[role]]

    def contact_offsets(self, side: str, floor: float) -> dict[str, np.ndarray]:
        """Rest offsets from the ankle of the target's contact points: heel (under the ankle
        on the floor), toe (the toe bone's head, else the foot's tail), ankle (zero)."""
        ankle = self.head(f"foot{side}")
        toe = self.head(f"toe{side}") if self.has(f"toe{side}") else \
            self.rest_tail[self.bone[f"foot{side}"]]
        heel = np.array([ankle[0], ankle[1], floor])
        return {"heel": heel - ankle, "toe": toe - ankle, "ankle": np.zeros(3)}

    def pelvis_point(self, heads: np.ndarray) -> np.ndarray:
        """[..., 3] mid-thighs (else the hips head) from bone heads [..., B, 3]."""
        if self.has("thigh.L", "thigh.R"):
            return 0.5 * (heads[..., self.bone["thigh.L"], :] + heads[..., self.bone["thigh.R"], :])
        return heads[..., self.bone["hips"], :]

    def lines(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Target rest left (hip line), shoulder line and up (pelvis -> neck), world."""
        hips = (self.head("thigh.L") - self.head("thigh.R")) if self.has("thigh.L", "thigh.R") \
            else self.Rw[:, 0]
        shoulders = hips
        for a in ("upper_arm", "shoulder"):
            if self.has(f"{a}.L", f"{a}.R"):
                shoulders = self.head(f"{a}.L") - self.head(f"{a}.R")
                break
        up = self.segment_end("hips") - self.pelvis_point(self.rest_head)
        return normalize(hips), normalize(shoulders), normalize(up)


def _check_source(joint_names: list[str], joints: np.ndarray) -> dict[str, int]:
    idx = {n: i for i, n in enumerate(joint_names)}
    missing = [n for n in _REQUIRED if n not in idx]
    if missing:
        raise SkelsplatError(f"cannot retarget: the motion lacks joints {missing} "
                             "(a canonical SkelSplat motion is expected)")
    if joints.ndim != 3 or joints.shape[2] != 3 or joints.shape[0] == 0:
        raise SkelsplatError(f"cannot retarget: joints must be [F, J, 3], got {joints.shape}")
    bad = ~np.isfinite(joints[:, [idx[n] for n in _REQUIRED]]).all(axis=(1, 2))
    if bad.any():
        raise SkelsplatError(f"cannot retarget: frame {int(np.flatnonzero(bad)[0])} has "
                             "undetermined joints; fill the gaps first")
    return idx


def retarget(joints3d: np.ndarray, joint_names: list[str], rig: TargetRig, bone_map: BoneMap,
             fps: float, options: RetargetOptions | None = None) -> RetargetResult:
    """Poses of ``rig``'s bones that play the canonical motion (see the module docstring).

    Args:
        joints3d: [F, J, 3] gap-filled canonical joints, metres, calibration world (Z up).
        joint_names: J canonical names.
        rig: the target's rest pose.
        bone_map: role -> bone of ``rig``.
        fps: the take's frame rate (contact speeds).
    """
    opts = options or RetargetOptions()
    if opts.root_motion not in ROOT_MOTIONS:
        raise SkelsplatError(f"root motion must be one of {ROOT_MOTIONS}, got {opts.root_motion!r}")
    joints3d = np.asarray(joints3d, dtype=float)
    idx = _check_source(joint_names, joints3d)
    sol = _Solver(rig, bone_map)
    names = list(joint_names)
    floor = estimate_floor(joints3d, names, fps)
    X = transform_points(floor.alignment(), joints3d)  # [F, J, 3] floor at Z = 0
    F = X.shape[0]
    P = {n: X[:, i] for n, i in idx.items()}

    def seg(a: str, b: str) -> np.ndarray:
        return P[b] - P[a]

    up_s = seg("pelvis", "neck")
    hip_line = normalize(seg("right_hip", "left_hip"))
    sh_line = normalize(seg("right_shoulder", "left_shoulder")) if (
        "left_shoulder" in P and "right_shoulder" in P) else hip_line
    t_hips, t_sh, t_up = sol.lines()
    t_fwd = normalize(np.cross(t_hips, t_up))

    D: dict[str, np.ndarray] = {}
    eye = np.broadcast_to(np.eye(3), (F, 3, 3))

    def parent_delta(role: str) -> np.ndarray:
        for p in _ROLE_PARENTS.get(role, ()):
            if p in D:
                return D[p]
        return D.get("hips", eye)

    for role, w in _TRUNK_WEIGHT.items():
        if role not in sol.bone:
            continue
        if role == "hips":  # the hip line first: the legs hang exactly from the hips
            src, tgt = frame_from(hip_line, up_s), frame_from(t_hips, t_up)
        else:  # spine bones turn with the trunk (pelvis -> neck), whatever their own curve
            src = frame_from(up_s, normalize((1 - w) * hip_line + w * sh_line))
            tgt = frame_from(t_up, normalize((1 - w) * t_hips + w * t_sh))
        D[role] = src @ tgt.T
    if "neck" in sol.bone and "head" in P:
        src = frame_from(seg("neck", "head"), sh_line)
        tgt = frame_from(sol.segment_end("neck") - sol.head("neck"), t_sh)
        D["neck"] = src @ tgt.T
    if "head" in sol.bone:
        top = "head_top" if "head_top" in P else None
        base = "head" if "head" in P else "neck"
        prim = seg(base, top) if top else seg("neck", base)
        side = np.cross(prim, seg(base, "nose")) if "nose" in P else sh_line
        src = frame_from(prim, side)
        tgt = frame_from(sol.segment_end("head") - sol.head("head"), t_sh)
        D["head"] = src @ tgt.T
    for s in SIDES:
        for r in ("shoulder", "upper_arm", "forearm", "hand", "thigh", "shin", "foot", "toe"):
            role = r + s
            if role not in sol.bone:
                continue
            base = parent_delta(role)
            src_seg = _SOURCE_SEGMENTS.get(role)
            if src_seg is None or not all(j in P for j in src_seg):
                D[role] = base
                continue
            cur = seg(*src_seg)
            rest_dir = sol.segment_end(role) - sol.head(role)
            D[role] = swing(np.einsum("fij,j->fi", base, rest_dir), cur) @ base
            if r in ("upper_arm", "thigh"):
                lower = seg(*_SOURCE_SEGMENTS[("forearm" if r == "upper_arm" else "shin") + s])
                bend = np.arccos(np.clip(np.sum(normalize(cur) * normalize(lower), -1), -1, 1))
                hinge = np.cross(cur, lower)
                rest_hinge = np.cross(rest_dir, t_fwd if r == "upper_arm" else -t_fwd)
                D[role] = twist_towards(D[role], cur, normalize(rest_hinge), hinge,
                                        smoothstep(np.degrees(bend), 10.0, 25.0))

    rig_parents = rig.parents
    B = len(rig.bone_names)
    role_of = {b: r for r, b in sol.bone.items()}
    carrier_role = "root" if "root" in sol.bone else "hips"
    carrier = sol.bone[carrier_role]
    moved = np.zeros(B, bool)
    for b in range(B):
        moved[b] = b == carrier or (rig_parents[b] >= 0 and moved[rig_parents[b]])

    def propagate() -> np.ndarray:
        out = np.empty((B, F, 3, 3))
        for b in range(B):
            role = role_of.get(b)
            if role is not None and role in D:
                out[b] = D[role]
            elif rig_parents[b] >= 0:
                out[b] = out[rig_parents[b]]
            else:
                out[b] = eye
        return out

    def heads_of(delta: np.ndarray, shift: np.ndarray) -> np.ndarray:
        h = np.empty((F, B, 3))
        for b in range(B):
            p = rig_parents[b]
            if p < 0:
                h[:, b] = sol.rest_head[b]
            else:
                h[:, b] = h[:, p] + np.einsum("fij,j->fi", delta[p],
                                              sol.rest_head[b] - sol.rest_head[p])
            if b == carrier:
                h[:, b] += shift
        return h

    delta = propagate()
    zero = np.zeros((F, 3))
    heads = heads_of(delta, zero)
    # Root motion: pelvis point follows the scaled source pelvis.
    src_leg = leg_length(P)
    tgt_points = {f"{side}_{j}": sol.head(f"{r}{s}") for s, side in (
        (".L", "left"), (".R", "right")) for j, r in (("hip", "thigh"), ("knee", "shin"),
                                                      ("ankle", "foot"))
        if sol.has(f"{r}{s}")}
    if len(tgt_points) == 6:
        tgt_leg = leg_length(tgt_points)
    else:  # no legs mapped: the rest pelvis height stands in for the leg
        tgt_leg = float(sol.pelvis_point(sol.rest_head)[2] - np.min(sol.rest_head[:, 2]))
    scale = opts.scale if opts.scale > 0 else tgt_leg / max(src_leg, 1e-9)
    pelvis_rest = sol.pelvis_point(sol.rest_head)
    ps = P["pelvis"]
    want = np.empty((F, 3))
    floor_t = float(min(sol.rest_head[:, 2].min(), sol.rest_tail[:, 2].min()))
    want[:, 2] = floor_t + scale * ps[:, 2]
    if opts.root_motion == "keep":
        want[:, :2] = pelvis_rest[:2] + scale * (ps[:, :2] - ps[0, :2])
    else:
        want[:, :2] = pelvis_rest[:2]
    shift = want - sol.pelvis_point(heads)
    heads = heads_of(delta, shift)

    feet = np.zeros((F, 2), bool)
    contacts = detect_contacts(X, names, np.array([0.0, 0.0, 1.0]), 0.0, fps)
    for k, side in enumerate(("left", "right")):
        if side in contacts:
            feet[:, k] = contacts[side].contact
    # Heights: feet in contact stand as high as the target's own feet stand in its rest pose
    # (the actor's ankle height need not scale like the legs).
    lift = [np.median(sol.head(f"foot{s}")[2] - heads[feet[:, k], sol.bone[f"foot{s}"], 2])
            for k, s in enumerate(SIDES) if sol.has(f"foot{s}") and feet[:, k].any()]
    if lift:
        shift[:, 2] += float(np.mean(lift))
        heads = heads_of(delta, shift)
    floor_t = float(min(sol.rest_head[:, 2].min(), sol.rest_tail[:, 2].min()))
    held: dict[str, tuple[list[str], np.ndarray]] = {}
    for side, fc in contacts.items():
        speed = horizontal_speed(X[:, [idx[p] for p in fc.points]], np.array([0.0, 0, 1]), fps,
                                 window=1)  # [F, K]
        height = X[:, [idx[p] for p in fc.points], 2] - fc.levels  # [F, K] above contact
        still = fc.planted & (speed < opts.still_speed) & (height < opts.still_height)
        held[side] = (list(fc.points), np.stack([drop_short_runs(still[:, k], 3)
                                                 for k in range(still.shape[1])], axis=1))
    if opts.plant_feet:
        legs = []  # (side suffix, thigh, shin, foot bone, [F, 3] ankle goal)
        for k, (s, side) in enumerate(((".L", "left"), (".R", "right"))):
            if not (sol.has(f"thigh{s}", f"shin{s}", f"foot{s}") and side in contacts
                    and feet[:, k].any()):
                continue
            hb, kb, ab = (sol.bone[f"{r}{s}"] for r in ("thigh", "shin", "foot"))
            goal = plant_ankle(heads[:, ab], delta[ab], held[side][0], held[side][1],
                               sol.contact_offsets(s, floor_t), opts.blend_frames)
            legs.append((s, hb, kb, ab, goal))
        # A held ankle the straight leg cannot reach would slide: the pelvis dips instead.
        drop = np.zeros(F)
        for _, hb, kb, ab, goal in legs:
            length = float(np.linalg.norm(sol.rest_head[kb] - sol.rest_head[hb])
                           + np.linalg.norm(sol.rest_head[ab] - sol.rest_head[kb]))
            drop = np.maximum(drop, pelvis_dip(heads[:, hb], goal, _REACH * length))
        if drop.any():
            shift[:, 2] -= smooth_above(drop, opts.blend_frames)
            heads = heads_of(delta, shift)
        for s, hb, kb, ab, goal in legs:
            hip, knee, ankle = heads[:, hb], heads[:, kb], heads[:, ab]
            upper = float(np.linalg.norm(sol.rest_head[kb] - sol.rest_head[hb]))
            lower = float(np.linalg.norm(sol.rest_head[ab] - sol.rest_head[kb]))
            new_knee, new_ankle = two_bone_ik(hip, knee, goal, upper, lower)
            turn_thigh = swing(knee - hip, new_knee - hip)
            D[f"thigh{s}"] = turn_thigh @ D[f"thigh{s}"]
            shin_now = np.einsum("fij,fj->fi", turn_thigh, ankle - knee)
            D[f"shin{s}"] = swing(shin_now, new_ankle - new_knee) @ turn_thigh @ D[f"shin{s}"]
        delta = propagate()
        heads = heads_of(delta, shift)

    # Armature-space pose matrices of every bone, then basis keys of the keyed ones.
    W = np.asarray(rig.world, dtype=float)
    inv_w = np.linalg.inv(W)
    pose = np.zeros((F, B, 4, 4))
    pose[..., :3, :3] = np.einsum("ij,bfjk,bkl->fbil", sol.Rw.T, delta, sol.rest_rot)
    pose[..., :3, 3] = heads @ inv_w[:3, :3].T + inv_w[:3, 3]
    pose[..., 3, 3] = 1.0
    keyed = sorted(set(sol.bone.values()) | {carrier})
    rest = np.array(rig.rest, dtype=float)
    rest[:, :3, :3] = rest[:, :3, :3] / np.linalg.norm(rest[:, :3, :3], axis=1, keepdims=True)
    basis = np.empty((F, len(keyed), 4, 4))
    for k, b in enumerate(keyed):
        p = rig_parents[b]
        if p < 0:
            basis[:, k] = np.linalg.inv(rest[b]) @ pose[:, b]
        else:
            basis[:, k] = (np.linalg.inv(rest[b]) @ rest[p]) @ np.linalg.inv(pose[:, p]) @ \
                pose[:, b]
    quats = continuous_quaternions(quaternion_from_matrix(basis[..., :3, :3]))
    return RetargetResult(
        bone_names=[rig.bone_names[b] for b in keyed], carrier=rig.bone_names[carrier],
        pose=pose[:, keyed], locations=basis[..., :3, 3], quaternions=quats, scale=scale,
        contacts=feet, held=held, source=X, world_heads=heads, pelvis_rest=pelvis_rest,
        source_leg=src_leg, target_leg=tgt_leg)


def thigh_reaching(hip: np.ndarray, thigh: np.ndarray, shin: np.ndarray, foot: np.ndarray
                   ) -> np.ndarray:
    """[4, 4] the thigh's pose matrix moved to ``hip`` [3] (where a rig's constraints put its
    head) and turned so the leg still reaches the wanted ankle (``foot``'s head): two-bone
    IK with the knee on the wanted knee's side. thigh, shin, foot: [4, 4] wanted pose
    matrices (armature space, rotation and head)."""
    h, k, a = thigh[:3, 3], shin[:3, 3], foot[:3, 3]
    knee, _ = two_bone_ik(hip[None], k[None], a[None], float(np.linalg.norm(k - h)),
                          float(np.linalg.norm(a - k)))
    out = np.array(thigh, dtype=float)
    out[:3, :3] = swing(k - h, knee[0] - hip) @ out[:3, :3]
    out[:3, 3] = hip
    return out


def shin_aiming(knee: np.ndarray, shin: np.ndarray, foot: np.ndarray) -> np.ndarray:
    """[4, 4] the shin's pose matrix moved to ``knee`` [3] and turned to aim at the wanted
    ankle (``foot``'s head); shin, foot: [4, 4] wanted pose matrices."""
    out = np.array(shin, dtype=float)
    out[:3, :3] = swing(foot[:3, 3] - shin[:3, 3], foot[:3, 3] - knee) @ out[:3, :3]
    out[:3, 3] = knee
    return out
