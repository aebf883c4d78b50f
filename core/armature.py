"""The rigid armature of a take (numpy, no ``bpy``): rest pose, rotations, keys.

Approach (documented in the README's Blender section):
- Skeleton: one per take (:func:`take_skeleton`): every segment's length is a robust median
  over the frames where both of its joints were fitted, and every *cluster* of points carried
  by one bone (hips on the pelvis; nose, eyes, ears on the head; index, pinky, thumb on the
  hand; heel and toe on the foot) has one median shape. The armature's rest pose is built
  from it, so bone lengths never change during the take.
- Bones: one per canonical joint (head at the joint), plus helper bones without a joint of
  their own: ``spine`` (pelvis -> neck) and ``left/right_clavicle`` (neck -> shoulder). Only
  the root (``pelvis``) is keyed with a location; every other bone turns, so a child's head
  always sits at its rest offset from its parent.
- Rotations: the pelvis from the hip line and the trunk; a bone with one target (a limb
  segment, the spine, a clavicle, the neck) aims at the fitted target from its own
  (rigid) head, then twists towards a cue: the spine to the shoulder line (chest twist), the
  upper arm / thigh and forearm / shin to the limb's bend plane (only as far as the limb is
  bent), and the forearm to the hand's palm when the hand has points; a cluster bone (head,
  hand, foot) takes the rotation that best fits its points (Kabsch). A bone whose points are
  absent keeps its parent's rotation; :attr:`RigPlan.undetermined` says which.
- Rest pose: T-pose (default) or A-pose (arms 45 degrees down), actor facing -Y with the
  left side on +X, feet on Z = 0; bones have Blender's roll 0 (``blender_roll_zero_frame``),
  so left and right bones mirror each other.
- Keys are Blender ``matrix_basis`` values: ``basis = (B_p^-1 B)^-1 M_p^-1 M``, with ``B`` the rest
  bone matrices (armature space) and ``M`` the pose matrices.

Shapes: F frames, J joints (:attr:`RigPlan.joint_names`), B bones (:attr:`RigPlan.bone_names`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .errors import SkelsplatError
from .orientation import (
    blender_roll_zero_frame,
    frame_from,
    frame_ok,
    kabsch,
    normalize,
    smoothstep,
    swing,
    twist_towards,
)
from .skeletons import CANONICAL_JOINTS, CANONICAL_PARENTS

_LEFT, _UP, _FWD = np.array([1.0, 0, 0]), np.array([0, 0, 1.0]), np.array([0, -1.0, 0])
REST_POSES = ("T", "A")

#: Rest direction of the segment parent -> joint (Blender axes, actor's left = +X).
TEMPLATE_DIRECTIONS: dict[str, np.ndarray] = {
    "left_hip": _LEFT, "left_knee": -_UP, "left_ankle": -_UP,
    "left_heel": np.array([0.0, 0.5, -1.0]), "left_toe": np.array([0.0, -1.0, -0.4]),
    "neck": _UP, "head": _UP, "head_top": _UP, "nose": np.array([0.0, -1.0, 0.3]),
    "left_eye": np.array([0.35, -1.0, 0.4]), "left_ear": _LEFT,
    "left_shoulder": _LEFT, "left_elbow": _LEFT, "left_wrist": _LEFT,
    "left_index": np.array([1.0, -0.25, 0.0]), "left_pinky": np.array([1.0, 0.25, 0.0]),
    "left_thumb": np.array([0.6, -0.8, 0.0]),
}
for _name in list(TEMPLATE_DIRECTIONS):
    if _name.startswith("left_"):
        TEMPLATE_DIRECTIONS["right_" + _name[5:]] = TEMPLATE_DIRECTIONS[_name] * [-1.0, 1, 1]
TEMPLATE_DIRECTIONS = {k: v / np.linalg.norm(v) for k, v in TEMPLATE_DIRECTIONS.items()}

#: Helper bones: name -> (joint at the head, the joint it aims at).
HELPER_BONES: dict[str, tuple[str, str]] = {
    "spine": ("pelvis", "neck"),
    "left_clavicle": ("neck", "left_shoulder"), "right_clavicle": ("neck", "right_shoulder"),
}


@dataclass(frozen=True)
class ClusterRule:
    """How a bone carrying several points gets a frame: ``primary`` and ``secondary`` are
    vectors built from joint positions (each a (plus, minus) pair of joint-name tuples whose
    means are subtracted), ``rest_primary`` / ``rest_secondary`` their rest directions."""

    primary: tuple[tuple[str, ...], tuple[str, ...]]
    secondary: tuple[tuple[str, ...], tuple[str, ...]]
    rest_primary: np.ndarray
    rest_secondary: np.ndarray

    def joints(self) -> set[str]:
        return {n for pair in (self.primary, self.secondary) for side in pair for n in side}


def _cluster_rules(bone: str) -> list[ClusterRule]:
    """Candidate frame rules of a cluster bone, best first (the first whose joints exist)."""
    R = ClusterRule
    if bone == "pelvis":
        return [R((("left_hip",), ("right_hip",)), (("neck",), ("pelvis",)), _LEFT, _UP)]
    if bone == "head":
        out = []
        for left, right in (("left_ear", "right_ear"), ("left_eye", "right_eye")):
            for front in (("nose",), ("left_eye", "right_eye"), ("head_top",)):
                rest_b = _UP if front == ("head_top",) else _FWD
                out.append(R(((left,), (right,)), (front, ("head",)), _LEFT, rest_b))
        return out
    for side, sign in (("left_", 1.0), ("right_", -1.0)):
        if bone == side + "wrist":
            i, p, t, w = side + "index", side + "pinky", side + "thumb", side + "wrist"
            along = _LEFT * sign
            return [R(((i, p), (w,)), ((i,), (p,)), along, _FWD),
                    R(((i,), (w,)), ((t,), (w,)), along, _FWD),
                    R(((p,), (w,)), ((t,), (w,)), along, _FWD)]
        if bone == side + "ankle":
            h, t, a = side + "heel", side + "toe", side + "ankle"
            return [R(((t,), (h,)), ((a,), (h,)), _FWD, _UP)]
    return []


def _mean_of(X: np.ndarray, names: list[str], group: tuple[str, ...]) -> np.ndarray:
    return np.mean([X[..., names.index(n), :] for n in group], axis=0)


def _rule_vectors(rule: ClusterRule, X: np.ndarray, names: list[str]
                  ) -> tuple[np.ndarray, np.ndarray]:
    a = _mean_of(X, names, rule.primary[0]) - _mean_of(X, names, rule.primary[1])
    b = _mean_of(X, names, rule.secondary[0]) - _mean_of(X, names, rule.secondary[1])
    return a, b


@dataclass(frozen=True)
class RigLayout:
    """Which bones exist for a set of present joints, and what each one places.

    Attributes:
        joint_names: J present canonical joints, canonical order (``pelvis`` first).
        bone_names: B bones, parents first.
        parents: [B] parent bone index, -1 for the root.
        head_joint: [B] joint index at each bone's head.
        targets: per bone, the joint indices whose positions its rotation sets.
        rules: bone name -> the cluster frame rule it uses (bones with several targets).
    """

    joint_names: list[str]
    bone_names: list[str]
    parents: np.ndarray
    head_joint: np.ndarray
    targets: list[list[int]]
    rules: dict[str, ClusterRule]


def rig_layout(present: list[str]) -> RigLayout:
    """The bone tree for the canonical joints ``present`` (must include ``pelvis``)."""
    names = [n for n in CANONICAL_JOINTS if n in present]
    if "pelvis" not in names:
        raise SkelsplatError("cannot bake: the motion has no pelvis joint (the armature root)")

    def ancestor(name: str) -> str | None:
        p = CANONICAL_PARENTS[name]
        while p is not None and p not in names:
            p = CANONICAL_PARENTS[p]
        return p

    def carrier(name: str) -> str | None:
        """The bone whose rotation places joint ``name``."""
        if name == "pelvis":
            return None
        for helper, (head, aim) in HELPER_BONES.items():
            if aim == name and head in names:
                return helper
        return ancestor(name)

    bones: list[str] = []
    heads: list[str] = []
    parent_of: dict[str, str | None] = {}

    def add(bone: str, head: str, parent: str | None) -> None:
        bones.append(bone)
        heads.append(head)
        parent_of[bone] = parent
        for n in names:  # joint bones carried by this bone
            if carrier(n) == bone:
                add(n, n, bone)
        for helper, (h, aim) in HELPER_BONES.items():  # helpers hanging from this bone
            if h in names and aim in names and helper not in bones and \
                    _helper_parent(helper, names) == bone:
                add(helper, h, bone)

    add("pelvis", "pelvis", None)
    targets = [[names.index(n) for n in names if carrier(n) == b] for b in bones]
    rules = {}
    for b, tg in zip(bones, targets):
        if len(tg) >= 2:
            for rule in _cluster_rules(b):
                if rule.joints() <= set(names):
                    rules[b] = rule
                    break
    parents = np.array([-1 if parent_of[b] is None else bones.index(parent_of[b])
                        for b in bones])
    return RigLayout(names, bones, parents, np.array([names.index(h) for h in heads]),
                     targets, rules)


def _helper_parent(helper: str, names: list[str]) -> str:
    """Spine hangs from the pelvis; clavicles from the spine (else the pelvis)."""
    if helper == "spine":
        return "pelvis"
    return "spine" if "neck" in names else "pelvis"


@dataclass
class TakeSkeleton:
    """The take's one skeleton: segment lengths and cluster shapes (metres).

    Attributes:
        lengths: (head joint, target joint) -> segment length.
        shapes: cluster bone -> target joint -> [3] offset from the bone's head, in the
            frame of the bone's :class:`ClusterRule` (columns: primary, secondary, normal).
        support: (head joint, target joint) -> frames the length was measured on.
    """

    lengths: dict[tuple[str, str], float] = field(default_factory=dict)
    shapes: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    support: dict[tuple[str, str], int] = field(default_factory=dict)


def take_skeleton(joints3d: np.ndarray, valid: np.ndarray, joint_names: list[str],
                  lengths: dict[tuple[str, str], float] | None = None) -> TakeSkeleton:
    """The take's skeleton from fitted canonical joints (robust medians).

    Only frames where the joints involved were fitted (``valid``, not gap-filled) count. A
    fitter that solves one skeleton per take can pass its segment ``lengths`` (same keys as
    :attr:`TakeSkeleton.lengths`); they replace the medians.

    Args:
        joints3d: [F, J, 3] metres (NaN allowed where invalid).
        valid: [F, J] bool.
        joint_names: J canonical names.
    """
    X = np.where(valid[..., None], joints3d, np.nan)
    present = [n for n in joint_names if valid[:, joint_names.index(n)].any()]
    layout = rig_layout(present)
    names = list(joint_names)
    out = TakeSkeleton()
    for b, bone in enumerate(layout.bone_names):
        h = layout.joint_names[layout.head_joint[b]]
        for t in layout.targets[b]:
            tn = layout.joint_names[t]
            d = np.linalg.norm(X[:, names.index(tn)] - X[:, names.index(h)], axis=-1)
            ok = np.isfinite(d)
            out.support[(h, tn)] = int(ok.sum())
            out.lengths[(h, tn)] = float(np.median(d[ok])) if ok.any() else float("nan")
        rule = layout.rules.get(bone)
        if rule is None:
            continue
        a, bvec = _rule_vectors(rule, X, names)
        E = frame_from(np.nan_to_num(a), np.nan_to_num(bvec))  # [F, 3, 3]
        tg = [layout.joint_names[t] for t in layout.targets[b]]
        d = np.stack([X[:, names.index(n)] - X[:, names.index(h)] for n in tg], 1)  # [F, K, 3]
        ok = frame_ok(E) & np.isfinite(a).all(-1) & np.isfinite(bvec).all(-1) \
            & np.isfinite(d).all((-1, -2))
        if not ok.any():
            continue
        local = np.einsum("fji,fkj->fki", E[ok], d[ok])  # E^T d
        out.shapes[bone] = {n: np.median(local[:, k], axis=0) for k, n in enumerate(tg)}
    if lengths:
        out.lengths.update({k: float(v) for k, v in lengths.items() if k in out.lengths})
    return out


@dataclass(frozen=True)
class RigPlan:
    """The rigid armature of one take.

    Attributes:
        layout: bone tree (:class:`RigLayout`).
        joint_rest: [J, 3] rest positions of the joints (armature space, metres).
        heads: [B, 3] rest bone heads; tails: [B, 3] rest bone tails.
        frames: [B, 3, 3] rest bone rotations (columns: bone x, y = along the bone, z).
        rest_pose: ``"T"`` or ``"A"``.
        cluster_rest: bone -> [3, 3] rest frame of its cluster rule (columns as the rule's).
        undetermined: rotations the joint set cannot define (kept at the parent's swing).
    """

    layout: RigLayout
    joint_rest: np.ndarray
    heads: np.ndarray
    tails: np.ndarray
    frames: np.ndarray
    rest_pose: str
    cluster_rest: dict[str, np.ndarray]
    undetermined: list[str]

    @property
    def joint_names(self) -> list[str]:
        return self.layout.joint_names

    @property
    def bone_names(self) -> list[str]:
        return self.layout.bone_names

    @property
    def parents(self) -> np.ndarray:
        return self.layout.parents

    def rest_matrices(self) -> np.ndarray:
        """[B, 4, 4] rest bone matrices (``Bone.matrix_local``)."""
        out = np.tile(np.eye(4), (len(self.bone_names), 1, 1))
        out[:, :3, :3] = self.frames
        out[:, :3, 3] = self.heads
        return out


def _arm_bones(layout: RigLayout, side: str) -> set[str]:
    """Bones from the shoulder down on one side (turned for the A-pose)."""
    out: set[str] = set()
    for b, name in enumerate(layout.bone_names):
        k = b
        while k >= 0:
            if layout.bone_names[k] == side + "shoulder":
                out.add(name)
                break
            k = layout.parents[k]
    return out


def plan_rig(skeleton: TakeSkeleton, joint_names: list[str], rest_pose: str = "T") -> RigPlan:
    """Rest armature of ``skeleton`` for the canonical joints ``joint_names``.

    Args:
        skeleton: the take's skeleton (:func:`take_skeleton`).
        joint_names: canonical joints with data (others are left out; children re-parent).
        rest_pose: ``"T"`` (arms level) or ``"A"`` (arms 45 degrees down).
    """
    if rest_pose not in REST_POSES:
        raise SkelsplatError(f"rest pose must be one of {REST_POSES}, got {rest_pose!r}")
    layout = rig_layout([n for n in joint_names
                         if all(np.isfinite(v) for (h, t), v in skeleton.lengths.items()
                                if t == n)])
    names, J = layout.joint_names, len(layout.joint_names)
    turn = {}
    if rest_pose == "A":
        c = np.sqrt(0.5)
        for side, s in (("left_", 1.0), ("right_", -1.0)):
            R = np.array([[c, 0, s * c], [0, 1, 0], [-s * c, 0, c]])  # arm 45 deg down
            turn.update({b: R for b in _arm_bones(layout, side)})
    rest = np.zeros((J, 3))
    cluster_rest: dict[str, np.ndarray] = {}
    undetermined: list[str] = []
    for b, bone in enumerate(layout.bone_names):
        h = layout.head_joint[b]
        G = turn.get(bone, np.eye(3))
        rule, shape = layout.rules.get(bone), skeleton.shapes.get(bone)
        if rule is not None and shape is not None:
            E = G @ frame_from(rule.rest_primary, rule.rest_secondary)
            cluster_rest[bone] = E
            for t in layout.targets[b]:
                rest[t] = rest[h] + E @ shape[names[t]]
        else:
            for t in layout.targets[b]:
                length = skeleton.lengths.get((names[h], names[t]), float("nan"))
                if not np.isfinite(length):
                    raise SkelsplatError(
                        f"cannot build the armature: no frame has both {names[h]} and "
                        f"{names[t]} (measure the skeleton with these joints present)")
                rest[t] = rest[h] + G @ TEMPLATE_DIRECTIONS.get(names[t], _UP) * length
        undetermined += _undetermined(bone, layout, b)
    rest[:, 2] -= rest[:, 2].min()  # feet on the floor
    heads = rest[layout.head_joint]
    tails = np.array([_rest_tail(layout, b, rest, heads, cluster_rest)
                      for b in range(len(layout.bone_names))])
    frames = blender_roll_zero_frame(tails - heads)
    return RigPlan(layout, rest, heads, tails, frames, rest_pose, cluster_rest, undetermined)


def _undetermined(bone: str, layout: RigLayout, b: int) -> list[str]:
    n = len(layout.targets[b])
    if bone == "head" and bone not in layout.rules:
        return ["head: no nose/eye/ear points to turn it; kept at the neck rotation"
                if n == 0 else "head: twist undetermined (no left/right eye or ear pair)"]
    for side in ("left_", "right_"):
        if bone == side + "wrist" and bone not in layout.rules:
            return [f"{bone}: no index/pinky/thumb points; hand kept at the forearm "
                    f"rotation and forearm twist from the elbow bend only"]
        if bone == side + "ankle" and bone not in layout.rules:
            return [f"{bone}: no heel and toe pair; foot " +
                    ("kept at the shin rotation" if n == 0 else "twist undetermined")]
    if bone == "spine" and not {"left_shoulder", "right_shoulder"} <= set(layout.joint_names):
        return ["spine: no shoulder pair; chest twist undetermined"]
    return []


def _rest_tail(layout: RigLayout, b: int, rest: np.ndarray, heads: np.ndarray,
               cluster_rest: dict[str, np.ndarray]) -> np.ndarray:
    bone, names = layout.bone_names[b], layout.joint_names
    tg = layout.targets[b]
    head = heads[b]
    pick = {"head": ("head_top",), "pelvis": (), "left_ankle": ("left_toe",),
            "right_ankle": ("right_toe",), "left_wrist": ("left_index", "left_pinky"),
            "right_wrist": ("right_index", "right_pinky")}.get(bone)
    chosen = [t for t in tg if names[t] in pick] if pick is not None else []
    if pick is not None and pick and len(chosen) == len(pick):
        return rest[chosen].mean(0)
    if bone in ("pelvis", "head"):
        return head + _UP * (0.12 if bone == "pelvis" else 0.18)
    if tg:
        tail = rest[tg].mean(0)
        if np.linalg.norm(tail - head) > 1e-3:
            return tail
    p = layout.parents[b]
    direction = normalize(head - heads[p]) if p >= 0 else _UP
    if np.linalg.norm(direction) < 0.5:
        direction = _UP
    return head + direction * 0.05


@dataclass
class RigPose:
    """A posed take: the root's location and every bone's rotation per frame.

    Attributes:
        root: [F, 3] root (pelvis) position, metres.
        rotations: [F, B, 3, 3] world rotations rest -> pose of every bone.
    """

    root: np.ndarray
    rotations: np.ndarray


def _bend_cue(X: np.ndarray, names: list[str], a: str, b: str, c: str, rest_bend: np.ndarray,
              rest: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bend-plane normal of a limb a -> b -> c: rest cue, pose cue [F, 3], weight [F]."""
    ia, ib, ic = names.index(a), names.index(b), names.index(c)
    upper, lower = X[:, ib] - X[:, ia], X[:, ic] - X[:, ib]
    normal = np.cross(normalize(upper), normalize(lower))
    weight = smoothstep(np.linalg.norm(normal, axis=-1), 0.15, 0.4)
    rest_cue = np.cross(normalize(rest[ib] - rest[ia]), rest_bend)
    return rest_cue, normal, weight


def _twist_cue(plan: RigPlan, bone: str, X: np.ndarray, cluster_rot: dict[str, np.ndarray]
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    names, rest = plan.joint_names, plan.joint_rest
    have = set(names)
    if bone == "spine" and {"left_shoulder", "right_shoulder"} <= have:
        li, ri = names.index("left_shoulder"), names.index("right_shoulder")
        return rest[li] - rest[ri], X[:, li] - X[:, ri], np.ones(len(X))
    for side in ("left_", "right_"):
        hand = side + "wrist"
        if bone == side + "elbow" and hand in cluster_rot:
            normal = plan.cluster_rest[hand][:, 2]  # palm normal at rest
            return normal, np.einsum("fij,j->fi", cluster_rot[hand], normal), \
                np.ones(len(X))
        limb = {side + "shoulder": ("shoulder", "elbow", "wrist", _FWD),
                side + "elbow": ("shoulder", "elbow", "wrist", _FWD),
                side + "hip": ("hip", "knee", "ankle", -_FWD),
                side + "knee": ("hip", "knee", "ankle", -_FWD)}.get(bone)
        if limb and all(side + j in have for j in limb[:3]):
            return _bend_cue(X, names, side + limb[0], side + limb[1], side + limb[2],
                             limb[3], rest)
    return None


def _implied_target(plan: RigPlan, t: int, X: np.ndarray, cluster_rot: dict[str, np.ndarray],
                    cluster_ok: dict[str, np.ndarray]) -> np.ndarray:
    """[F, 3] where joint ``t`` should be: the fitted joint, or, when ``t`` heads a cluster
    bone (head, hand, foot), the mean of the positions each of its points implies through
    the cluster's rotation (all points place the joint, not the joint alone)."""
    layout, rest = plan.layout, plan.joint_rest
    bone = layout.joint_names[t]
    if bone not in cluster_rot or bone == "pelvis":
        return X[:, t]
    b = layout.bone_names.index(bone)
    pts = [t, *layout.targets[b]]
    R = cluster_rot[bone]
    implied = X[:, pts] - np.einsum("fij,kj->fki", R, rest[pts] - rest[t])
    return np.where(cluster_ok[bone][:, None], implied.mean(axis=1), X[:, t])


def solve_pose(plan: RigPlan, joints3d: np.ndarray) -> RigPose:
    """Rotations of the rigid armature that best follow gap-filled fitted joints.

    Args:
        joints3d: [F, J, 3] in ``plan.joint_names`` order (metres, no NaN).
    """
    X = np.asarray(joints3d, dtype=float)
    layout, names, rest = plan.layout, plan.joint_names, plan.joint_rest
    F, B = X.shape[0], len(layout.bone_names)
    cluster_rot: dict[str, np.ndarray] = {}
    cluster_ok: dict[str, np.ndarray] = {}
    for b, bone in enumerate(layout.bone_names):
        if bone not in plan.cluster_rest:
            continue
        h, tg = layout.head_joint[b], layout.targets[b]
        if bone == "pelvis":  # the hip line is exact, the trunk sets the tilt
            a, bvec = _rule_vectors(layout.rules[bone], X, names)
            E = frame_from(a, bvec)
            cluster_ok[bone] = frame_ok(E)
            cluster_rot[bone] = E @ plan.cluster_rest[bone].T
        else:
            R, ok = kabsch(rest[tg] - rest[h], X[:, tg] - X[:, h, None])
            cluster_rot[bone], cluster_ok[bone] = R, ok
    P = np.zeros_like(X)
    P[:, 0] = X[:, 0]
    rot = np.zeros((F, B, 3, 3))
    for b, bone in enumerate(layout.bone_names):
        p = layout.parents[b]
        parent = np.broadcast_to(np.eye(3), (F, 3, 3)) if p < 0 else rot[:, p]
        h, tg = layout.head_joint[b], layout.targets[b]
        if bone in cluster_rot:
            R = np.where(cluster_ok[bone][:, None, None], cluster_rot[bone], parent)
        elif len(tg) >= 1:
            t = tg[0]
            aim = _implied_target(plan, t, X, cluster_rot, cluster_ok) - P[:, h]
            R = swing(np.einsum("fij,j->fi", parent, rest[t] - rest[h]), aim) @ parent
            cue = _twist_cue(plan, bone, X, cluster_rot)
            if cue is not None:
                R = twist_towards(R, aim, *cue)
        else:
            R = parent.copy()
        rot[:, b] = R
        for t in tg:
            P[:, t] = P[:, h] + np.einsum("fij,j->fi", R, rest[t] - rest[h])
    return RigPose(X[:, 0].copy(), rot)


def forward_kinematics(plan: RigPlan, pose: RigPose) -> np.ndarray:
    """[F, J, 3] joint positions of the posed rigid armature (``plan.joint_names`` order)."""
    layout, rest = plan.layout, plan.joint_rest
    F = pose.root.shape[0]
    P = np.zeros((F, len(layout.joint_names), 3))
    P[:, 0] = pose.root
    for b in range(len(layout.bone_names)):
        h = layout.head_joint[b]
        for t in layout.targets[b]:
            P[:, t] = P[:, h] + np.einsum("fij,j->fi", pose.rotations[:, b], rest[t] - rest[h])
    return P


def pose_matrices(plan: RigPlan, pose: RigPose) -> np.ndarray:
    """[F, B, 4, 4] armature-space pose matrices (rotation and head position per bone)."""
    P = forward_kinematics(plan, pose)
    F, B = pose.rotations.shape[:2]
    out = np.zeros((F, B, 4, 4))
    out[..., :3, :3] = pose.rotations @ plan.frames
    out[..., :3, 3] = P[:, plan.layout.head_joint]
    out[..., 3, 3] = 1.0
    return out


def fill_gaps(values: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Linear interpolation over frames of invalid entries; ends hold the nearest value.

    Args:
        values: [F, J, ...] array.
        valid: [F, J] bool.

    Returns:
        [F, J, ...] float array; joints never valid stay NaN.
    """
    out = np.array(values, dtype=float)
    F = out.shape[0]
    frames = np.arange(F)
    flat = out.reshape(F, out.shape[1], -1)
    for j in range(out.shape[1]):
        ok = valid[:, j] & np.all(np.isfinite(flat[:, j]), axis=-1)
        if ok.all() or not ok.any():
            if not ok.any():
                flat[:, j] = np.nan
            continue
        for c in range(flat.shape[2]):
            flat[:, j, c] = np.interp(frames, frames[ok], flat[ok, j, c])
    return flat.reshape(out.shape)


def basis_from_pose(rest: np.ndarray, parents: np.ndarray, pose: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Bone-local keys (Blender ``matrix_basis``) from armature-space pose matrices.

    Args:
        rest: [J, 4, 4] rest bone matrices (``Bone.matrix_local``).
        parents: [J] parent index, -1 for the root.
        pose: [F, J, 4, 4] wanted pose matrices.

    Returns:
        locations [F, J, 3] and quaternions [F, J, 4] (w, x, y, z; sign-continuous over F).
    """
    parents = np.asarray(parents)
    J = len(parents)
    # A_j = B_j^-1 B_p (B_p = identity for the root), constant per bone.
    parent_rest = np.where((parents >= 0)[:, None, None], rest[np.maximum(parents, 0)],
                           np.eye(4))
    A = np.linalg.inv(rest) @ parent_rest  # [J, 4, 4]
    R, t = pose[..., :3, :3], pose[..., :3, 3]  # pose matrices are rotation + translation
    Rp = np.where((parents >= 0)[None, :, None, None], R[:, np.maximum(parents, 0)], np.eye(3))
    tp = np.where((parents >= 0)[None, :, None], t[:, np.maximum(parents, 0)], 0.0)
    RpT = np.swapaxes(Rp, -1, -2)
    local_R = RpT @ R  # M_p^-1 M_j, rotation
    local_t = np.einsum("fjab,fjb->fja", RpT, t - tp)
    rot = A[None, :, :3, :3] @ local_R  # [F, J, 3, 3]
    loc = np.einsum("jab,fjb->fja", A[:, :3, :3], local_t) + A[None, :, :3, 3]
    assert rot.shape[1] == J
    return loc, continuous_quaternions(quaternion_from_matrix(rot))


def quaternion_from_matrix(R: np.ndarray) -> np.ndarray:
    """[..., 3, 3] rotations -> [..., 4] unit quaternions (w, x, y, z), w >= 0.

    Shepperd's method: divide by the largest of 4w^2, 4x^2, 4y^2, 4z^2 (full precision).
    """
    R = np.asarray(R, dtype=float)
    m = R.reshape(-1, 3, 3)
    tr = np.trace(m, axis1=1, axis2=2)
    cand = np.stack([tr, m[:, 0, 0], m[:, 1, 1], m[:, 2, 2]], axis=1)
    pick = np.argmax(cand, axis=1)
    q = np.empty((m.shape[0], 4))
    d01, d02, d12 = m[:, 0, 1] - m[:, 1, 0], m[:, 0, 2] - m[:, 2, 0], m[:, 1, 2] - m[:, 2, 1]
    s01, s02, s12 = m[:, 0, 1] + m[:, 1, 0], m[:, 0, 2] + m[:, 2, 0], m[:, 1, 2] + m[:, 2, 1]
    for k in range(4):
        sel = pick == k
        if not sel.any():
            continue
        r = np.sqrt(np.maximum(1.0 + 2.0 * cand[sel, k] - tr[sel], 1e-300))  # 2|q_k|
        if k == 0:
            rows = [r, -d12[sel] / r, d02[sel] / r, -d01[sel] / r]
        elif k == 1:
            rows = [-d12[sel] / r, r, s01[sel] / r, s02[sel] / r]
        elif k == 2:
            rows = [d02[sel] / r, s01[sel] / r, r, s12[sel] / r]
        else:
            rows = [-d01[sel] / r, s02[sel] / r, s12[sel] / r, r]
        q[sel] = np.stack(rows, axis=1) / 2.0
    q *= np.where(q[:, :1] < 0, -1.0, 1.0)
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    return q.reshape(*R.shape[:-2], 4)


def continuous_quaternions(q: np.ndarray) -> np.ndarray:
    """Flip signs along axis 0 (frames) so consecutive quaternions have a positive dot."""
    q = np.array(q, dtype=float)
    if q.shape[0] < 2:
        return q
    flips = np.sum(q[1:] * q[:-1], axis=-1) < 0  # [F-1, ...] sign changes between neighbours
    sign = np.concatenate([np.ones((1, *flips.shape[1:])),
                           np.where(np.cumsum(flips, axis=0) % 2 == 1, -1.0, 1.0)])
    return q * sign[..., None]


def ellipsoid_transforms(covariances: np.ndarray, sigma: float
                         ) -> tuple[np.ndarray, np.ndarray]:
    """Rotation and scale of a unit sphere that becomes the ``sigma`` ellipsoid of each Gaussian.

    ``R diag(s)^2 R^T = sigma^2 C`` for every covariance ``C``.

    Args:
        covariances: [F, J, 3, 3] m^2, gap-filled (symmetric positive semi-definite).
        sigma: number of standard deviations.

    Returns:
        quaternions [F, J, 4] (w, x, y, z), scales [F, J, 3] metres.
    """
    cov = 0.5 * (covariances + np.swapaxes(covariances, -1, -2))
    values, vectors = np.linalg.eigh(cov)
    for f in range(1, vectors.shape[0]):  # keep eigenvector signs steady over time
        dots = np.sum(vectors[f] * vectors[f - 1], axis=-2)
        vectors[f] *= np.where(dots < 0, -1.0, 1.0)[..., None, :]
    det = np.linalg.det(vectors)
    vectors[..., :, 2] *= np.sign(np.where(det == 0, 1.0, det))[..., None]
    scales = sigma * np.sqrt(np.clip(values, 0.0, None))
    return continuous_quaternions(quaternion_from_matrix(vectors)), scales
