"""The fitter's output for one take."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..motion import Motion3D
from ..skeletons import get_joint_set


@dataclass
class FitResult:
    """Fitted joints of one take.

    Attributes:
        joints3d: [F, J, 3] metres (world frame of the calibration); NaN where invalid.
        covariances: [F, J, 3, 3] m^2, the fitted Gaussians; NaN where invalid.
        valid: [F, J] bool.
        reprojection_error_px: [F, V, J] distance between the projected joint and the
            detection (distorted pixels); NaN where there is no detection or no joint.
        initial: [F, J, 3] the robust triangulation (with bridged gaps) the fit started from.
        diagnostics: iterations, losses, timings per stage (s), counts, options.
        joint_set: name of the joint set of axis J.
        camera_names: V names of the view axis.
        fps: frames per second, or None.
        frame_numbers: [F] take frame index of each row.
        raw_joints3d: [F, J, 3] before temporal smoothing (equal to joints3d when off).
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
            return Motion3D(self.joints3d.copy(), list(js.joints), self.valid.copy(),
                            self.covariances.copy(), self.fps, self.frame_numbers,
                            self.reprojection_error_px.copy(), list(self.camera_names),
                            None if raw is None else raw.copy(), meta)
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
        return Motion3D(joints, names, valid, cov, self.fps, self.frame_numbers,
                        mean_of(self.reprojection_error_px, 2), list(self.camera_names),
                        rawc, meta)
