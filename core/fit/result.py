"""The fitter's output for one take."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..metrics import mean_reprojection_error
from ..motion import Motion3D
from ..skeletons import get_joint_set
from .skeleton import Skeleton


@dataclass
class FitResult:
    """Fitted joints of one take.

    Attributes:
        joints3d: [F, J, 3] metres (world frame of the calibration); NaN where invalid.
        covariances: [F, J, 3, 3] m^2, the fitted Gaussians; NaN where invalid.
        valid: [F, J] bool.
        reprojection_error_px: [F, V, J] reprojection error of the delivered joints
            (``joints3d``: after the skeleton and smoothing): distance between the projected
            joint and the detection (distorted pixels), against the labels after the swap
            correction; NaN where there is no detection or no valid joint. The run's
            summary, report.html and the Blender panel show its mean.
        initial: [F, J, 3] the robust triangulation (with bridged gaps) the fit started from.
        diagnostics: iterations, losses, timings per stage (s), counts, options.
        joint_set: name of the joint set of axis J.
        camera_names: V names of the view axis.
        fps: frames per second, or None.
        frame_numbers: [F] take frame index of each row.
        raw_joints3d: [F, J, 3] before temporal smoothing: the free per-frame fit (no
            skeleton) when smoothing is on; equal to joints3d when it is off.
        skeleton: the take's bone lengths and how they were estimated (None when the fit
            ran without one, ``FitOptions.skeleton="off"``); joints3d then has these
            constant bone lengths in every frame where both ends are valid.
        raw_reprojection_error_px: [F, V, J] the same error of ``raw_joints3d`` (the fit
            before smoothing); equal to ``reprojection_error_px`` when smoothing is off.
        swap_flips: [F, V, G] bool, limb group g of view v in frame f had its left/right
            labels exchanged by the swap correction (None when it was off).
        swap_groups: the G limb group names of ``swap_flips``.
    """

    joints3d: np.ndarray
    covariances: np.ndarray
    valid: np.ndarray
    reprojection_error_px: np.ndarray
    initial: np.ndarray
    diagnostics: dict
    joint_set: str
    camera_names: list[str]
    fps: float | None = None
    frame_numbers: np.ndarray | None = None
    raw_joints3d: np.ndarray | None = None
    meta: dict = field(default_factory=dict)
    skeleton: Skeleton | None = None
    raw_reprojection_error_px: np.ndarray | None = None
    swap_flips: np.ndarray | None = None
    swap_groups: list[str] = field(default_factory=list)

    @property
    def mean_reprojection_px(self) -> float:
        """Mean of ``reprojection_error_px`` over every detection with a valid joint (px;
        NaN when there is none): the delivered motion's headline number."""
        return mean_reprojection_error(self.reprojection_error_px)

    @property
    def smoothed(self) -> bool:
        return self.diagnostics.get("smooth", "off") != "off"

    def to_motion(self, canonical: bool = True) -> Motion3D:
        """The result as :class:`Motion3D`.

        With ``canonical`` the joints are mapped to the canonical skeleton with
        ``JointSet.canonical_weights()``: each canonical joint is the mean of its source
        joints, its covariance the covariance of that mean (sources independent), valid only
        when every source is valid; the reprojection error is the mean of the sources'.
        """
        js = get_joint_set(self.joint_set)
        raw = self.raw_joints3d if self.smoothed else None
        meta = {"joint_set": js.name, "diagnostics": self.diagnostics, **self.meta}
        if not canonical:
            names, lengths = self._bones(list(js.joints), np.eye(js.n))
            return Motion3D(self.joints3d.copy(), list(js.joints), self.valid.copy(),
                            self.covariances.copy(), self.fps, self.frame_numbers,
                            self.reprojection_error_px.copy(), list(self.camera_names),
                            None if raw is None else raw.copy(), meta, names, lengths)
        W, names = js.canonical_weights()  # [Jc, J]
        uses = W > 0

        def mean_of(x: np.ndarray, axis_j: int) -> np.ndarray:
            xm = np.moveaxis(x, axis_j, -1)  # [..., J]
            out = np.einsum("...j,cj->...c", np.nan_to_num(xm), W)
            bad = np.einsum("...j,cj->...c", (~np.isfinite(xm)).astype(float), uses.astype(float))
            out[bad > 0] = np.nan
            return np.moveaxis(out, -1, axis_j)

        valid = (np.einsum("fj,cj->fc", (~self.valid).astype(float), uses.astype(float)) == 0)
        joints = np.einsum("cj,fjd->fcd", W, np.nan_to_num(self.joints3d))
        cov = np.einsum("cj,fjde->fcde", W ** 2, np.nan_to_num(self.covariances))
        joints[~valid] = np.nan
        cov[~valid] = np.nan
        rawc = None
        if raw is not None:
            rawc = np.einsum("cj,fjd->fcd", W, np.nan_to_num(raw))
            raw_ok = np.einsum("fj,cj->fc", (~np.isfinite(raw).all(-1)).astype(float),
                               uses.astype(float)) == 0
            rawc[~raw_ok] = np.nan
        bone_names, lengths = self._bones(names, W)
        return Motion3D(joints, names, valid, cov, self.fps, self.frame_numbers,
                        mean_of(self.reprojection_error_px, 2), list(self.camera_names),
                        rawc, meta, bone_names, lengths)

    def _bones(self, names: list[str], W: np.ndarray) -> tuple[list[str], np.ndarray | None]:
        """Rigid bones of the output joints ``names`` (weights ``W`` [Jo, J] from the fitted
        joints): an output bone is listed when both ends are single fitted joints linked by
        a bone of the skeleton with a known length (its length is then constant)."""
        if self.skeleton is None:
            return [], None
        js = get_joint_set(self.joint_set)
        src = {i: int(np.flatnonzero(row)[0]) for i, row in enumerate(W)
               if np.count_nonzero(row) == 1}
        known = {(int(a), int(b)): float(L) for (a, b), L in
                 zip(self.skeleton.bones, self.skeleton.lengths_m) if np.isfinite(L)}
        out_js = js if list(names) == list(js.joints) else get_joint_set("skelsplat")
        out_names, out_len = [], []
        for pa, pb in out_js.bones:
            if pa not in names or pb not in names:
                continue
            a, b = names.index(pa), names.index(pb)
            if a in src and b in src:
                pair = (src[a], src[b])
                L = known.get(pair, known.get(pair[::-1]))
                if L is not None:
                    out_names.append(f"{names[a]}-{names[b]}")
                    out_len.append(L)
        return out_names, np.array(out_len, dtype=float)
