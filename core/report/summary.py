"""The closing summary of a run: computed once, rendered in the terminal and in report.html.

:func:`summarize` turns the fit output into a :class:`RunSummary`; :meth:`RunSummary.rows`
formats every number exactly once, and both :meth:`RunSummary.to_text` (terminal) and the
HTML report print those same strings, so the two can never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..animation import Animation
from ..animation_metrics import AnimationMetrics
from ..camera import Rig
from ..metrics import bone_length_std, bone_lengths, nanmean, nanmedian, reprojection_errors
from ..motion import Motion3D
from ..skeletons import CANONICAL, get_joint_set


@dataclass
class RunSummary:
    """Headline numbers of one run.

    Attributes:
        take: take name.
        n_frames: frames fitted (F).
        camera_names: the V cameras.
        coverage_pct: valid (frame, canonical joint) entries, percent.
        reprojection_px: mean reprojection error over every detection with a valid joint (px).
        reprojection_median_px: median of the same errors (px): robust to swapped or
            outlier detections, which the mean includes.
        reprojection_px_per_camera: camera name -> mean reprojection error (px).
        bone_std_mm: bone-length standard deviation over the take, mean over bones (mm).
        bone_std_mm_per_bone: "parent-child" -> std (mm), NaN when seen < 2 frames.
        bone_mean_mm_per_bone: "parent-child" -> mean length (mm).
        timings_s: stage name -> seconds, in run order.
        files: files written (paths relative to the output folder where possible).
        joint_set: joint set of the detections (the reprojection error's joint axis).
        reprojection_error_px: [F, V, J] per-detection errors the means come from (px).
        bone_names: B canonical bones "parent-child" of ``bone_lengths_mm``.
        bone_lengths_mm: [F, B] bone lengths the stds come from (mm).
        animation: the baked animation's metrics (``AnimationMetrics``), None when not
            animated.
        floor_text: how the floor was placed.
        undetermined: rotations the joint set cannot define.
        contacts: side -> [F] bool foot contacts (for the contact plot).
        foot_heights_mm: side -> [F] height of the foot's lowest point above the floor.
    """

    take: str
    n_frames: int
    camera_names: list[str]
    coverage_pct: float
    reprojection_px: float
    reprojection_median_px: float
    reprojection_px_per_camera: dict[str, float]
    bone_std_mm: float
    bone_std_mm_per_bone: dict[str, float]
    bone_mean_mm_per_bone: dict[str, float]
    timings_s: dict[str, float] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    joint_set: str = ""
    reprojection_error_px: np.ndarray | None = field(default=None, repr=False)
    bone_names: list[str] = field(default_factory=list)
    bone_lengths_mm: np.ndarray | None = field(default=None, repr=False)
    animation: AnimationMetrics | None = None
    floor_text: str = ""
    undetermined: list[str] = field(default_factory=list)
    contacts: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    foot_heights_mm: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    @property
    def total_s(self) -> float:
        return float(sum(self.timings_s.values()))

    def rows(self) -> list[tuple[str, str]]:
        """(label, formatted value) pairs: the single place where numbers become text."""
        rows = [
            ("take", self.take),
            ("frames", f"{self.n_frames}"),
            ("cameras", f"{len(self.camera_names)} ({', '.join(self.camera_names)})"),
            ("coverage", f"{self.coverage_pct:.1f} % valid joints"),
            ("mean reprojection error", f"{_num(self.reprojection_px, 2)} px"),
            ("median reprojection error", f"{_num(self.reprojection_median_px, 2)} px"),
            ("bone-length std (mean over bones)", f"{_num(self.bone_std_mm, 1)} mm"),
        ]
        rows += self.animation_rows()
        stages = ", ".join(f"{k} {v:.2f}" for k, v in self.timings_s.items())
        rows.append(("time per stage (s)", stages or "-"))
        rows.append(("total time", f"{self.total_s:.2f} s"))
        return rows

    def animation_rows(self) -> list[tuple[str, str]]:
        """(label, value) rows of the baked animation (see ``core.animation_metrics``)."""
        a = self.animation
        if a is None:
            return []
        contacts = ", ".join(f"{s} {_num(v, 0)} %" for s, v in a.contact_pct.items())
        return [
            ("armature bone-length std", f"{_num(a.bone_std_mm, 3)} mm (rigid skeleton)"),
            ("joint residual to the fit", f"{_num(a.residual_mean_mm, 1)} mm mean, "
             f"{_num(a.residual_p95_mm, 1)} mm p95 (rig alone: "
             f"{_num(a.rig_residual_mean_mm, 1)} mm mean)"),
            ("foot skate (planted feet)", f"{_num(a.foot_skate_mm, 2)} mm/frame"),
            ("ground penetration", f"{_num(a.penetration_mean_mm, 2)} mm mean, "
             f"{_num(a.penetration_max_mm, 1)} mm max"),
            ("jitter (mean acceleration)", f"{_num(a.jitter_mm, 2)} mm/frame^2 "
             f"(fit {_num(a.fit_jitter_mm, 2)})"),
            ("foot contacts", f"{contacts or 'no foot points'} of frames"),
            ("floor", self.floor_text or "-"),
            ("undetermined rotations", "; ".join(self.undetermined) or "none"),
            ("residual per joint (mean / p95)",
             ", ".join(f"{j} {v}" for j, v in self.residual_rows())),
        ]

    def residual_rows(self) -> list[tuple[str, str]]:
        """(joint, "mean / p95 mm") distance between the baked armature and the fit."""
        if self.animation is None:
            return []
        return [(n, f"{_num(m, 1)} / {_num(p, 1)} mm")
                for n, (m, p) in self.animation.residual_per_joint_mm.items()]

    def camera_rows(self) -> list[tuple[str, str]]:
        """(camera, formatted mean reprojection error) pairs."""
        return [(c, f"{_num(e, 2)} px") for c, e in self.reprojection_px_per_camera.items()]

    def to_text(self) -> str:
        """The terminal summary: one aligned line per row, then the files written."""
        rows = self.rows()
        width = max(len(k) for k, _ in rows)
        lines = ["SkelSplat run summary"]
        lines += [f"  {k.ljust(width)}  {v}" for k, v in rows]
        per_cam = ", ".join(f"{c} {v}" for c, v in self.camera_rows())
        lines.append(f"  {'reprojection per camera'.ljust(width)}  {per_cam}")
        if self.files:
            lines.append("  files written:")
            lines += [f"    {f}" for f in self.files]
        return "\n".join(lines)


def _num(value: float, digits: int) -> str:
    return "n/a" if value is None or not np.isfinite(value) else f"{value:.{digits}f}"


def summarize(
    take: str,
    rig: Rig,
    keypoints: np.ndarray,  # [F, V, J, 3] detections aligned to the rig's camera order
    joints3d: np.ndarray | None,  # [F, J, 3] fitted joints in the detections' joint set (m)
    motion: Motion3D,  # canonical motion (coverage and bone lengths)
    joint_set: str,
    timings_s: dict[str, float] | None = None,
    files: list[str] | None = None,
    animation: Animation | None = None,
    reprojection_error_px: np.ndarray | None = None,  # [F, V, J] px
) -> RunSummary:
    """Compute the headline numbers of a run (see ``core.metrics`` and ``core.animation_metrics``
    for the definitions).

    ``reprojection_error_px``: the fit's own errors of the delivered joints
    (``FitResult.reprojection_error_px``), so the summary shows exactly the fit's number;
    without it they are computed from ``joints3d`` and ``keypoints``.
    """
    if reprojection_error_px is not None:
        err = np.asarray(reprojection_error_px, dtype=float)  # [F, V, J]
    else:
        err = reprojection_errors(rig, joints3d, keypoints)  # [F, V, J]
    per_cam = nanmean(err, axis=(0, 2))
    names, bones = canonical_bones(motion.joint_names)
    lengths = 1000.0 * bone_lengths(motion.joints3d, bones)  # [F, B] mm
    std = bone_length_std(lengths)
    mean = nanmean(lengths, axis=0)
    return RunSummary(
        take=take,
        n_frames=int(motion.n_frames),
        camera_names=list(rig.names),
        coverage_pct=100.0 * motion.coverage,
        reprojection_px=float(nanmean(err)),
        reprojection_median_px=float(nanmedian(err)),
        reprojection_px_per_camera={c: float(e) for c, e in zip(rig.names, per_cam)},
        bone_std_mm=float(nanmean(std)),
        bone_std_mm_per_bone={n: float(s) for n, s in zip(names, std)},
        bone_mean_mm_per_bone={n: float(m) for n, m in zip(names, mean)},
        timings_s=dict(timings_s or {}),
        files=list(files or []),
        joint_set=get_joint_set(joint_set).name,
        reprojection_error_px=err,
        bone_names=names,
        bone_lengths_mm=lengths,
        **_animation_fields(animation),
    )


def _animation_fields(animation: Animation | None) -> dict:
    if animation is None:
        return {}
    floor = animation.floor
    if np.allclose(animation.alignment, np.eye(4)):
        text = "calibration world kept"
    else:
        text = "aligned: floor at Z = 0, +Z up"
    text += (f" (normal fitted to {floor.n_points} slow foot points)" if floor.fitted_normal
             else " (normal from the body up direction, pelvis to neck)")
    heights = {}
    for side, fc in animation.contacts.items():
        pts = [animation.joint_names.index(n) for n in fc.points]
        heights[side] = floor.height(animation.joints[:, pts]).min(axis=1) * 1000.0
    return {"animation": animation.metrics, "floor_text": text,
            "undetermined": animation.undetermined,
            "contacts": {s: fc.contact for s, fc in animation.contacts.items()},
            "foot_heights_mm": heights}


def canonical_bones(joint_names: list[str]) -> tuple[list[str], np.ndarray]:
    """Bones of the canonical skeleton present in ``joint_names``.

    Returns:
        names ["parent-child", ...] and indices [B, 2] into ``joint_names``.
    """
    idx = {n: i for i, n in enumerate(joint_names)}
    pairs = [(a, b) for a, b in CANONICAL.bones if a in idx and b in idx]
    names = [f"{a}-{b}" for a, b in pairs]
    return names, np.array([(idx[a], idx[b]) for a, b in pairs], dtype=int).reshape(-1, 2)


def relative_files(paths: list[Path], root: Path) -> list[str]:
    """Paths as strings relative to ``root`` when inside it, else absolute."""
    out = []
    for p in paths:
        try:
            out.append(str(Path(p).resolve().relative_to(Path(root).resolve())))
        except ValueError:
            out.append(str(p))
    return out
