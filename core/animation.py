"""From fitted joints to an animation an animator can use (numpy, no ``bpy``).

:func:`animate` runs, in order: gap filling -> the take's one skeleton
(``blender_rig.take_skeleton``) -> the floor (``floor.estimate_floor``) and the transform that
puts it at Z = 0 with +Z up -> the rigid armature's rotations (``blender_rig.solve_pose``) ->
foot contacts (``contacts.detect_contacts``) -> planted feet locked with two-bone IK
(``foot_lock.lock_feet``) -> metrics (``animation_metrics``). With ``floor="keep"`` the result
is moved back into the calibration's world (the floor is still estimated and reported).
The Blender bake only keys what this returns.

Shapes: F frames, J joints (:attr:`Animation.joint_names`), B bones.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .animation_metrics import (
    AnimationMetrics,
    bone_length_std_mm,
    foot_skate_mm,
    jitter_mm,
    penetration_mm,
    residual_mm,
)
from .armature import (
    RigPlan,
    RigPose,
    TakeSkeleton,
    fill_gaps,
    forward_kinematics,
    plan_rig,
    solve_pose,
    take_skeleton,
)
from .contacts import ContactOptions, FootContacts, detect_contacts, foot_points
from .errors import SkelsplatError
from .floor import Floor, estimate_floor, transform_points
from .foot_lock import lock_feet
from .motion import Motion3D

FLOOR_MODES = ("align", "keep")


@dataclass(frozen=True)
class AnimationOptions:
    """How fitted joints become an animation.

    Attributes:
        rest_pose: armature rest pose, ``"T"`` or ``"A"``.
        floor: ``"align"`` (floor at Z = 0, +Z up) or ``"keep"`` (calibration world).
        lock_feet: lock planted feet (two-bone IK on the legs).
        contacts: contact detection thresholds.
        blend_frames: frames over which a foot eases into / out of its lock.
    """

    rest_pose: str = "T"
    floor: str = "align"
    lock_feet: bool = True
    contacts: ContactOptions = field(default_factory=ContactOptions)
    blend_frames: int = 3


@dataclass
class Animation:
    """A rigid, rotation-only animation of the canonical armature.

    Attributes:
        plan: the armature (rest pose, bones).
        pose: root positions and bone rotations per frame (output world).
        joints: [F, J, 3] animated joints (forward kinematics of ``pose``).
        fitted: [F, J, 3] the fitted joints, gap-filled, in the same world.
        valid: [F, J] where the fit was valid (not gap-filled).
        alignment: [4, 4] calibration world -> output world (identity with ``floor="keep"``).
        floor: the floor in the output world.
        contacts: side -> :class:`FootContacts`.
        skeleton: the take's skeleton.
        fps: frames per second.
        metrics: headline numbers.
        warnings: what could not be done as asked.
    """

    plan: RigPlan
    pose: RigPose
    joints: np.ndarray
    fitted: np.ndarray
    valid: np.ndarray
    alignment: np.ndarray
    floor: Floor
    contacts: dict[str, FootContacts]
    skeleton: TakeSkeleton
    fps: float
    metrics: AnimationMetrics
    warnings: list[str] = field(default_factory=list)

    @property
    def joint_names(self) -> list[str]:
        return self.plan.joint_names

    @property
    def undetermined(self) -> list[str]:
        """Rotations the joint set cannot define (kept at the parent's swing)."""
        return list(self.plan.undetermined)


def _foot_point_array(P: np.ndarray, names: list[str]) -> np.ndarray:
    pts = foot_points(names, "left") + foot_points(names, "right")
    return P[:, [names.index(n) for n in pts]] if pts else np.zeros((P.shape[0], 0, 3))


def animate(motion: Motion3D, options: AnimationOptions | None = None) -> Animation:
    """The rigid animation of a canonical ``motion`` (see the module docstring)."""
    options = options or AnimationOptions()
    if options.floor not in FLOOR_MODES:
        raise SkelsplatError(f"floor must be one of {FLOOR_MODES}, got {options.floor!r}")
    if motion.n_frames == 0:
        raise SkelsplatError("cannot animate: the motion has no frames")
    fps = float(motion.fps or 30.0)
    filled = fill_gaps(motion.joints3d, motion.valid)  # [F, J_in, 3]
    present = [n for j, n in enumerate(motion.joint_names) if np.isfinite(filled[:, j]).all()]
    idx = [motion.index(n) for n in present]
    X, valid = filled[:, idx], motion.valid[:, idx]
    fitted = None  # the fitter's one skeleton per take, where the motion carries it
    if motion.bone_lengths is not None:
        fitted = {tuple(name.split("-", 1)): float(length)
                  for name, length in zip(motion.bone_names, motion.bone_lengths)
                  if np.isfinite(length)}
    skeleton = take_skeleton(X, valid, present, lengths=fitted)
    for _ in range(len(present)):  # drop joints never seen together with their parent
        usable = [n for n in present if all(np.isfinite(v) for (h, t), v in
                                            skeleton.lengths.items() if t == n)]
        if usable == present:
            break
        keep = [present.index(n) for n in usable]
        present, X, valid = usable, X[:, keep], valid[:, keep]
        skeleton = take_skeleton(X, valid, present)
    plan = plan_rig(skeleton, present, options.rest_pose)
    names = plan.joint_names
    order = [present.index(n) for n in names]
    X, valid = X[:, order], valid[:, order]

    floor = estimate_floor(X, names, fps, options.contacts)
    A = floor.alignment()
    Xa = transform_points(A, X)
    pose = solve_pose(plan, Xa)
    P = forward_kinematics(plan, pose)
    up = np.array([0.0, 0.0, 1.0])
    contacts = detect_contacts(P, names, up, 0.0, fps, options.contacts)
    rig_residual = residual_mm(P, Xa, valid, names)[0]
    if options.lock_feet and contacts:
        pose = lock_feet(plan, pose, contacts, options.blend_frames)
        P = forward_kinematics(plan, pose)
    aligned_floor = Floor(up, 0.0, floor.n_points, floor.fitted_normal, floor.prior)
    metrics = animation_metrics(plan, P, Xa, valid, contacts, up, fps)
    metrics.rig_residual_mean_mm = rig_residual
    if options.floor == "keep":
        inv = np.linalg.inv(A)
        pose = RigPose(transform_points(inv, pose.root),
                       np.einsum("ij,fbjk->fbik", inv[:3, :3], pose.rotations))
        P, Xa = transform_points(inv, P), X
        A, aligned_floor = np.eye(4), floor
    warnings = []
    if not contacts:
        warnings.append("no foot points: contacts, foot locking and the floor are unavailable")
    return Animation(plan, pose, P, Xa, valid, A, aligned_floor, contacts, skeleton, fps,
                     metrics, warnings)


def animation_metrics(plan: RigPlan, joints: np.ndarray, fitted: np.ndarray,
                      valid: np.ndarray, contacts: dict[str, FootContacts], up: np.ndarray,
                      fps: float, offset: float = 0.0) -> AnimationMetrics:
    """The :class:`AnimationMetrics` of animated joints [F, J, 3] against the fit."""
    names = plan.joint_names
    skate = []
    for fc in contacts.values():
        pts = joints[:, [names.index(n) for n in fc.points]]
        s = foot_skate_mm(pts, fc.planted, up)
        if np.isfinite(s):
            skate.append((s, int((fc.planted[1:] & fc.planted[:-1]).sum())))
    skate_mm = (sum(s * n for s, n in skate) / max(sum(n for _, n in skate), 1)
                if skate else float("nan"))
    pen_mean, pen_max = penetration_mm(_foot_point_array(joints, names), up, offset)
    heads = joints[:, plan.layout.head_joint]
    res_mean, res_p95, per = residual_mm(joints, fitted, valid, names)
    return AnimationMetrics(
        foot_skate_mm=skate_mm, penetration_mean_mm=pen_mean, penetration_max_mm=pen_max,
        bone_std_mm=bone_length_std_mm(heads, plan.parents), residual_mean_mm=res_mean,
        residual_p95_mm=res_p95, residual_per_joint_mm=per, jitter_mm=jitter_mm(joints),
        fit_jitter_mm=jitter_mm(fitted),
        contact_pct={s: 100.0 * float(fc.contact.mean()) for s, fc in contacts.items()})
