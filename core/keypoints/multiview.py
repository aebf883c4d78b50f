"""Multi-view 2D keypoints of one actor: the hand-off format between readers/detectors
and the fitter."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..camera import Rig
from ..errors import KeypointError
from ..skeletons import JointSet, get_joint_set


@dataclass
class Keypoints2D:
    """2D detections of one actor in every view.

    Attributes:
        data: [F, V, J, 3] float64: u, v in *distorted* image pixels (as detected) and a
            confidence in [0, 1]; confidence 0 means missing (u, v are then ignored).
        camera_names: V camera names, matched to the calibration by name.
        joint_set: name of the joint set of axis J (see ``core.skeletons``).
        frame_numbers: [F] int, take frame index of each row (after sync offsets).
        fps: frames per second, or None when unknown.
        source: where the keypoints came from (file or folder), for messages.
        meta: free-form provenance.
    """

    data: np.ndarray
    camera_names: list[str]
    joint_set: str
    frame_numbers: np.ndarray | None = None
    fps: float | None = None
    source: str = ""
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        where = self.source or "keypoints"
        data = np.array(self.data, dtype=float)
        if data.ndim != 4 or data.shape[-1] != 3:
            raise KeypointError(f"{where}: keypoints must be [frames, views, joints, 3] "
                                f"(u, v, confidence), got shape {data.shape}")
        F, V, J, _ = data.shape
        if len(self.camera_names) != V:
            raise KeypointError(f"{where}: {len(self.camera_names)} camera names for {V} views")
        js = get_joint_set(self.joint_set)
        if js.n != J:
            raise KeypointError(f"{where}: joint set {js.name} has {js.n} joints, "
                                f"the keypoints have {J}")
        conf = data[..., 2]
        bad = ~np.isfinite(data[..., :2]).all(-1) | ~np.isfinite(conf)
        conf = np.where(bad, 0.0, conf)
        if np.any(conf < 0) or np.any(conf > 1 + 1e-6):
            raise KeypointError(f"{where}: confidences must lie in [0, 1] "
                                f"(found {conf.min():.3g} .. {conf.max():.3g})")
        data[..., 2] = np.clip(conf, 0.0, 1.0)
        data[data[..., 2] <= 0] = 0.0  # missing: no coordinates either
        self.data = data
        self.joint_set = js.name
        self.camera_names = [str(c) for c in self.camera_names]
        if self.frame_numbers is None:
            self.frame_numbers = np.arange(F)
        self.frame_numbers = np.asarray(self.frame_numbers, dtype=int)
        if self.frame_numbers.shape != (F,):
            raise KeypointError(f"{where}: frame_numbers must have {F} entries")

    @property
    def shape(self) -> tuple[int, int, int]:
        F, V, J, _ = self.data.shape
        return F, V, J

    @property
    def joints(self) -> JointSet:
        return get_joint_set(self.joint_set)

    @property
    def confidence(self) -> np.ndarray:
        """[F, V, J] confidences (0 = missing)."""
        return self.data[..., 2]

    def replace(self, **changes) -> Keypoints2D:
        """A copy with some fields changed (``data=..., fps=...``); the others are copied
        (camera names, frame numbers and meta too), and the copy is checked like a new one."""
        fields = {"data": self.data, "camera_names": list(self.camera_names),
                  "joint_set": self.joint_set, "frame_numbers": self.frame_numbers.copy(),
                  "fps": self.fps, "source": self.source, "meta": dict(self.meta)}
        unknown = sorted(set(changes) - set(fields))
        if unknown:
            raise TypeError(f"Keypoints2D has no field(s) {unknown}")
        return Keypoints2D(**{**fields, **changes})

    def aligned_to(self, rig: Rig) -> Keypoints2D:
        """Reorder the view axis to the rig's camera order (matched by name).

        Raises KeypointError naming the cameras that the keypoints lack. Keypoint
        cameras the rig does not have are dropped.
        """
        missing = [n for n in rig.names if n not in self.camera_names]
        if missing:
            raise KeypointError(
                f"{self.source or 'keypoints'}: no keypoints for calibrated camera(s) {missing}; "
                f"keypoint cameras are {self.camera_names}")
        order = [self.camera_names.index(n) for n in rig.names]
        return self.replace(data=self.data[:, order], camera_names=list(rig.names))

    def frames(self, start: int, stop: int) -> Keypoints2D:
        """Rows ``start:stop`` (Python slice semantics)."""
        return self.replace(data=self.data[start:stop],
                            frame_numbers=self.frame_numbers[start:stop])
